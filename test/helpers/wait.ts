/** Retries `check` until it stops throwing / returns truthy, instead of fixed sleeps. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 5000, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await check()
      if (value !== false && value !== undefined && value !== null) return value
      lastError = new Error('condition still false')
    } catch (err) {
      lastError = err
    }
    if (Date.now() > deadline) throw lastError
    await Bun.sleep(intervalMs)
  }
}
