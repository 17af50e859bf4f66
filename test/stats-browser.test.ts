import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import type { StateView } from '../src/admin/balancer-control.js'
import type { LoadBalancer } from '../src/load-balancer.js'
import { startBackend, type TestBackend } from './helpers/backend.js'
import { ROOT, startBalancer } from './helpers/balancer.js'
import { balancerYaml } from './helpers/config-yaml.js'
import { request } from './helpers/load.js'
import { releaseConfig, startReleaseBalancer } from './helpers/release.js'
import { waitFor } from './helpers/wait.js'

/** Debian's Chromium (installed by .ci/run); Playwright's own browser builds cannot be downloaded here. */
const CHROMIUM = '/usr/bin/chromium'
const OUTPUT = join(ROOT, 'test-output')
const TOKEN = 'page-token'
const KOREAN = '서버1'

/** A browser with a fresh profile, or a skip that says why there is none. */
async function openBrowser(t: TestContext): Promise<BrowserContext | undefined> {
  if (!existsSync(CHROMIUM)) {
    t.skip(`no browser: ${CHROMIUM} is missing (apt-get install chromium; .ci/run does it)`)
    return undefined
  }
  const profile = mkdtempSync(join(tmpdir(), 'switchyard-chromium-'))
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
  t.after(async () => {
    await browser.close()
    rmSync(profile, { recursive: true, force: true })
  })
  return browser
}

/** A backend whose /healthz answers `health.status` (switchable by the test) and whose other paths answer its name. */
async function switchableBackend(t: TestContext, name: string): Promise<{ backend: TestBackend; health: { status: number } }> {
  const health = { status: 200 }
  const backend = await startBackend(name, (req, res) => {
    res.writeHead(req.url === '/healthz' ? health.status : 200, { 'content-type': 'text/plain; charset=utf-8' })
    res.end(name)
  })
  t.after(() => backend.close())
  return { backend, health }
}

function adminUrl(lb: LoadBalancer): string {
  const a = lb.adminListen!
  return `http://${a.host}:${a.port}`
}

async function apiState(lb: LoadBalancer): Promise<StateView> {
  return (await (await fetch(`${adminUrl(lb)}/api/v1/state`)).json()) as StateView
}

function serverRow(page: Page, backend: string, server: string) {
  return page.locator(`table[data-backend="${backend}"] tr[data-server="${server}"]`)
}

async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(OUTPUT, { recursive: true })
  await page.screenshot({ path: join(OUTPUT, name), fullPage: true })
}

describe('the stats page in a browser', () => {
  it('shows every server live, turns a failing one DOWN without a reload, and drains only with the token', { timeout: 60_000 }, async (t) => {
    const browser = await openBrowser(t)
    if (browser === undefined) return
    const korean = await switchableBackend(t, KOREAN)
    const second = await switchableBackend(t, 's2')
    const other = await switchableBackend(t, 'api1')
    const health = '    health: { type: http, path: /healthz, interval: 150ms, fast_interval: 100ms, rise: 1, fall: 1, timeout: 500ms }'
    const lb = await startBalancer(
      balancerYaml({
        admin: `token: ${TOKEN}`,
        backend: health,
        servers: [
          { name: KOREAN, address: korean.backend.address },
          { name: 's2', address: second.backend.address },
        ],
        after: ['  api:', health, '    servers:', `      api1: { address: ${other.backend.address} }`].join('\n'),
      }),
    )
    t.after(() => lb.stop(0))
    for (let i = 0; i < 6; i++) await request(lb.url() + '/hello')

    const page = await browser.newPage()
    await page.goto(`${adminUrl(lb)}/stats`)
    for (const [backend, server] of [['app', KOREAN], ['app', 's2'], ['api', 'api1']] as const) {
      await serverRow(page, backend, server).and(page.locator('[data-state="UP"]')).waitFor({ timeout: 10_000 })
      assert.match((await serverRow(page, backend, server).locator('td').first().textContent()) ?? '', new RegExp(`^${server}$`))
    }
    await page.locator('#live.on').waitFor()
    // Set in the page: it survives only if the page is never reloaded.
    await page.evaluate(() => Object.assign(globalThis, { stillTheSamePage: true }))

    korean.health.status = 500
    await serverRow(page, 'app', KOREAN).and(page.locator('[data-state="DOWN"]')).waitFor({ timeout: 10_000 })
    assert.match((await serverRow(page, 'app', KOREAN).textContent()) ?? '', /DOWN/)
    assert.equal(await page.evaluate(() => (globalThis as { stillTheSamePage?: boolean }).stillTheSamePage), true)

    await serverRow(page, 'app', 's2').locator('button[data-action="drain"]').click()
    await page.locator('#message.error').waitFor()
    assert.match((await page.locator('#message').textContent()) ?? '', /refused.*SY_ERR_UNAUTHORIZED/)
    const untouched = (await apiState(lb)).backends[0]!.servers.find((s) => s.name === 's2')!
    assert.equal(untouched.admin, 'ready')

    await page.fill('#token', TOKEN)
    await page.click('#token-use')
    await serverRow(page, 'app', 's2').locator('button[data-action="drain"]').click()
    await waitFor('s2 drained through the page', async () => {
      const s2 = (await apiState(lb)).backends[0]!.servers.find((s) => s.name === 's2')!
      return s2.state === 'DRAIN' ? true : undefined
    })
    await serverRow(page, 'app', 's2').and(page.locator('[data-state="DRAIN"]')).waitFor()
    // The live row can turn DRAIN (events stream) before the API's answer, which comes once the change is saved.
    await waitFor('the page reports the drain', async () => (/app\/s2: admin drain/.test((await page.locator('#message').textContent()) ?? '') ? true : undefined))
    assert.equal(await page.evaluate(() => (globalThis as { stillTheSamePage?: boolean }).stillTheSamePage), true)
    await screenshot(page, 'stats-page.png')
  })

  it('shows a running canary: its split and a chart of its timeline', { timeout: 90_000 }, async (t) => {
    const browser = await openBrowser(t)
    if (browser === undefined) return
    const { lb, url } = await startReleaseBalancer(releaseConfig({ strategy: 'canary', strategyExtra: '      steps: [{ weight: 20 }]' }))
    t.after(() => lb.stop(1000))
    const record = lb.deploy('app', 'v2')
    await waitFor('the canary step', async () => {
      const steps = (await lb.deployment(record.id)).steps
      return steps.some((s) => s.kind === 'analyze') && steps.at(-1)!.kind === 'analyze' ? true : undefined
    }, 20_000)
    const deadline = Date.now() + 2500
    while (Date.now() < deadline) await request(url)
    await waitFor('timeline points', async () => ((await lb.deployment(record.id)).timeline.length >= 2 ? true : undefined))

    const page = await browser.newPage()
    await page.goto(`${adminUrl(lb)}/stats`)
    const panel = page.locator('section.service[data-service="app"]')
    await panel.locator('.split-label').waitFor({ timeout: 10_000 })
    assert.match((await panel.locator('.split-label').textContent()) ?? '', /v2 20%/)
    assert.match((await panel.locator('.split-label').textContent()) ?? '', /v1 80%/)
    await panel.locator('svg.chart polyline').first().waitFor()
    assert.ok(Number(await panel.locator('svg.chart').getAttribute('data-points')) >= 2)
    const releases = await panel.locator('svg.chart polyline[data-metric="requests/s"]').evaluateAll((lines) => lines.map((l) => l.getAttribute('data-release')))
    assert.deepEqual(releases.sort(), ['v1', 'v2'])
    const points = (await panel.locator('svg.chart polyline').first().getAttribute('points')) ?? ''
    assert.ok(points.split(' ').length >= 2, points)
    await screenshot(page, 'stats-release.png')
    await lb.steerDeployment(record.id, 'abort')
    await lb.services.settled()
  })
})
