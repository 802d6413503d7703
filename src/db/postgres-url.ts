/**
 * DATABASE_URL → postgres.js arguments, with libpq's Unix-socket forms, which postgres.js does not
 * read from a URL: `postgres://user@/db?host=/var/run/postgresql` (a `host` parameter that is a
 * directory) and `postgres://user@%2Fvar%2Frun%2Fpostgresql/db` (the directory as the URL's host).
 * Users of a local Postgres write these (peer authentication, no TCP listener); measured, they
 * send no faster than loopback TCP (docs/performance.md).
 */
export interface PostgresTarget {
  /** the URL without the socket directory */
  url: string
  /** socket directory (postgres.js connects to `<dir>/.s.PGSQL.<port>`), when the URL names one */
  socketDir?: string
}

export function postgresTarget(databaseUrl: string): PostgresTarget {
  let u: URL
  try {
    // `user@/db` (no host) is valid for libpq, not for WHATWG URL
    u = new URL(databaseUrl.replace(/^([a-z]+:\/\/[^/?#]*@)(?=[/?#]|$)/i, '$1localhost'))
  } catch {
    return { url: databaseUrl }
  }
  const param = u.searchParams.get('host')
  if (param?.startsWith('/')) {
    u.searchParams.delete('host')
    if (!u.hostname) u.hostname = 'localhost'
    return { url: u.toString(), socketDir: param }
  }
  const host = decodeURIComponent(u.hostname)
  if (host.startsWith('/')) {
    u.hostname = 'localhost'
    return { url: u.toString(), socketDir: host }
  }
  return { url: databaseUrl }
}
