import { createHash } from 'node:crypto'
import { PAGE_STYLE } from './page-style.js'
import { ACTIONS_SCRIPT } from './script-actions.js'
import { API_SCRIPT } from './script-api.js'
import { CHART_SCRIPT } from './script-chart.js'
import { DOM_SCRIPT } from './script-dom.js'
import { LIVE_SCRIPT } from './script-live.js'
import { RELEASES_SCRIPT } from './script-releases.js'
import { TABLES_SCRIPT } from './script-tables.js'

/** The page's script: the parts share one function scope, in this order (the last one starts the page). */
export const PAGE_SCRIPT = `(function () {\n'use strict'\n${[DOM_SCRIPT, API_SCRIPT, ACTIONS_SCRIPT, TABLES_SCRIPT, CHART_SCRIPT, RELEASES_SCRIPT, LIVE_SCRIPT].join('\n')}\n})()\n`

const LEGEND: readonly [state: string, meaning: string][] = [
  ['UP', 'takes new requests'],
  ['STARTING', 'new or back: checks not passed yet'],
  ['DRAIN', 'no new requests; in-flight ones finish'],
  ['MAINT', 'no traffic, not checked'],
  ['DOWN', 'failing its checks (or ejected)'],
]

const legend = LEGEND.map(([state, meaning]) => `<li><span class="chip ${state.toLowerCase()}">${state}</span>${meaning}</li>`).join('')

/*
 * The shell holds no data (the script reads /stats.json), so it is the same for everyone and may be served
 * without the token. The token field is not in a <form>: nothing can submit it anywhere.
 */
const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchyard statistics</title>
<style>${PAGE_STYLE}</style>
</head>
<body>
<header>
<h1>Switchyard <small>statistics</small></h1>
<span id="live" class="live off">connecting…</span>
<span id="updated"></span>
<span id="vrrp" class="vrrp" hidden></span>
<div class="token">
<label for="token">Admin token</label>
<input id="token" type="password" autocomplete="off" spellcheck="false" placeholder="bearer token">
<button id="token-use" type="button">Use</button>
<button id="token-forget" type="button">Forget</button>
<span id="token-state" class="token-state"></span>
</div>
</header>
<p id="message" class="message" role="status" aria-live="polite"></p>
<ul class="legend" aria-label="row colours">${legend}</ul>
<div id="services" hidden></div>
<div id="tables"></div>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`
}

/**
 * Only this page's own style and script run (by hash), it talks only to its own origin, and no other site may
 * frame it (the admin buttons must not be clickable through someone else's page).
 */
const CSP = [
  "default-src 'none'",
  `script-src ${sha256(PAGE_SCRIPT)}`,
  `style-src ${sha256(PAGE_STYLE)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

export const STATS_PAGE = {
  html: HTML,
  headers: {
    'content-security-policy': CSP,
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  },
} as const
