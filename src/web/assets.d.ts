// The page's script, imported `with { type: 'file' }`: Bun embeds it and gives its path.
declare module '*/chat.js' {
  const path: string
  export default path
}
