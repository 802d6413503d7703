// Files imported `with { type: 'text' }` / `{ type: 'file' }` (Bun embeds them in the binary).
declare module '*.sql' {
  const text: string
  export default text
}
declare module '*.wasm' {
  const path: string
  export default path
}
declare module '*.data' {
  const path: string
  export default path
}
declare module '*.css' {
  const path: string
  export default path
}
declare module '*/swagger-ui-bundle.js' {
  const path: string
  export default path
}
