/**
 * The web chat page (GET /) in a real browser: Debian's chromium driven by playwright-core, against
 * a real server. Not found by `bun test`'s default discovery (no `.test.` in the name), since a
 * fresh machine may have no chromium: `npm run test:browser` runs it (.ci/run installs chromium first).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { type Browser, chromium, type Page } from 'playwright-core'
import { startTestServer, type TestServer } from '../helpers/server'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const MANAGER_TOKEN = 'web-page-manager-token'

let server: TestServer
let browser: Browser

beforeAll(async () => {
  server = await startTestServer({ managerToken: MANAGER_TOKEN })
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await server?.stop()
})

/** A user's own browser profile with the page open; any script error on it fails the test. */
async function openPage(): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext()
  // fail in seconds, not after Playwright's default 30 s
  context.setDefaultTimeout(10_000)
  const page = await context.newPage()
  const errors: string[] = []
  page.on('pageerror', (err) => errors.push(err.message))
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()))
  // nothing may leave the machine: a request for any other host fails the test
  await context.route((url) => url.host !== new URL(server.url).host, (route) => {
    errors.push(`request left the server: ${route.request().url()}`)
    return route.abort()
  })
  await page.goto(server.url + '/')
  return { page, errors }
}

/** fills the join form and waits for "Joined …" (or fails with the page's status text) */
async function join(page: Page, fields: { uid?: string; conversation?: string; manager?: string }) {
  if (fields.manager !== undefined) await page.fill('#manager', fields.manager)
  if (fields.uid !== undefined) await page.fill('#uid', fields.uid)
  if (fields.conversation !== undefined) await page.fill('#conversation', fields.conversation)
  await page.click('#join')
  await page.waitForFunction(() => {
    const status = document.querySelector('#status')!
    return status.classList.contains('error') || status.textContent!.startsWith('Joined ')
  })
  expect(await page.textContent('#status')).toStartWith('Joined ')
}

/** types and sends a message; fails with the page's status text if the send was refused */
async function send(page: Page, text: string) {
  await page.fill('#text', text)
  await page.click('#send')
  await page.waitForFunction(() => (document.querySelector('#text') as HTMLInputElement).value === '' || !!document.querySelector('#status.error'))
  expect(await page.textContent('#status')).toStartWith('Joined ')
}

const texts = (page: Page) => page.$$eval('#messages li .text', (spans) => spans.map((s) => s.textContent))

describe('web chat page', () => {
  test('two users chat live; markup in a message stays text; a reload shows the history', async () => {
    const a = await openPage()
    const b = await openPage()
    // A creates the conversation (empty id field); B joins it by id
    await join(a.page, { manager: MANAGER_TOKEN, uid: 'alice', conversation: '' })
    const conversation = await a.page.inputValue('#conversation')
    expect(conversation).toMatch(/^[0-9a-f-]{36}$/)
    await join(b.page, { manager: MANAGER_TOKEN, uid: 'bob', conversation })

    const text = 'hi bob <b>x</b> & <img src=x onerror="window.pwned=1">'
    await send(a.page, text)
    // B sees it live, over its WebSocket; A gets its own echo
    await b.page.waitForFunction((t) => Array.from(document.querySelectorAll('#messages li .text')).some((s) => s.textContent === t), text)
    await a.page.waitForFunction((t) => Array.from(document.querySelectorAll('#messages li .text')).some((s) => s.textContent === t), text)
    expect(await texts(b.page)).toEqual([text])
    expect(await b.page.textContent('#messages li .from')).toBe('alice')
    // shown as text: no element was made from it, no script of it ran
    expect(await b.page.$$('#messages li b, #messages li img')).toHaveLength(0)
    expect(await b.page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined()

    // B reloads: uid and conversation come back from the address, the history holds the message
    await b.page.reload()
    expect(await b.page.inputValue('#uid')).toBe('bob')
    expect(await b.page.inputValue('#conversation')).toBe(conversation)
    expect(await b.page.inputValue('#manager')).toBe('')
    expect(await texts(b.page)).toEqual([])
    await join(b.page, { manager: MANAGER_TOKEN })
    expect(await texts(b.page)).toEqual([text])

    // and the live feed still works after the reload, in send order
    await send(a.page, 'second')
    await b.page.waitForFunction(() => document.querySelectorAll('#messages li').length === 2)
    expect(await texts(b.page)).toEqual([text, 'second'])
    expect(a.errors).toEqual([])
    expect(b.errors).toEqual([])
  }, 60_000)

  test('a wrong manager token is reported on the page and nothing is joined', async () => {
    const { page } = await openPage()
    await page.fill('#manager', 'not-the-token')
    await page.fill('#uid', 'carol')
    await page.click('#join')
    await page.waitForSelector('#status.error')
    expect(await page.textContent('#status')).toContain('bad manager token')
    expect(await page.isDisabled('#send')).toBe(true)
  }, 30_000)
})
