/**
 * The seed of the generated-input tests: fixed, so a run is repeatable and CI sees the same inputs
 * each time; `FUZZ_SEED=<n>` repeats a reported failure, `FUZZ_SEED=random` explores new inputs
 * (every failure message names the seed it ran with).
 */
export function fuzzSeed(): number {
  const given = process.env.FUZZ_SEED
  if (given === 'random') return Date.now() % 2 ** 31
  return given ? Number(given) : 20_261_204
}
