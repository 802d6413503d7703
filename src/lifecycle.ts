/**
 * Ordered shutdown: components register a stop step when they start; stop() runs them in reverse
 * order (last started, first stopped), each bounded so one stuck step cannot hang the exit.
 */
export class Lifecycle {
  private steps: { name: string; fn: () => Promise<void> | void }[] = []
  private stopping: Promise<void> | undefined

  onStop(name: string, fn: () => Promise<void> | void): void {
    this.steps.push({ name, fn })
  }

  stop(onError: (name: string, err: unknown) => void = () => {}, stepTimeoutMs = 4000): Promise<void> {
    this.stopping ??= (async () => {
      for (const step of [...this.steps].reverse()) {
        let timer: ReturnType<typeof setTimeout> | undefined
        try {
          await Promise.race([
            Promise.resolve().then(step.fn),
            new Promise((_, reject) => {
              timer = setTimeout(() => reject(new Error(`timed out after ${stepTimeoutMs} ms`)), stepTimeoutMs)
            }),
          ])
        } catch (err) {
          onError(step.name, err)
        } finally {
          clearTimeout(timer)
        }
      }
    })()
    return this.stopping
  }
}
