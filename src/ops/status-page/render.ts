import { createHash } from 'node:crypto';
import { STATUS_PAGE_BODY } from './markup.js';
import { STATUS_PAGE_SCRIPT } from './script.js';
import { STATUS_PAGE_STYLE } from './style.js';

/** A complete response for `GET /`. */
export interface StaticPage {
  body: string;
  headers: Record<string, string>;
}

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/**
 * The self-contained status page: one HTML document with its style and script inline, and a
 * Content-Security-Policy that allows exactly those two blocks and same-origin fetches. So the
 * page works on an air-gapped operator network, and cannot load anything from elsewhere even
 * if a future edit tried to.
 */
export function renderStatusPage(): StaticPage {
  const body = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pyramid · status</title>
<link rel="icon" href="data:,">
<style>${STATUS_PAGE_STYLE}</style>
</head>
<body>
${STATUS_PAGE_BODY}
<script>${STATUS_PAGE_SCRIPT}</script>
</body>
</html>
`;
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(STATUS_PAGE_SCRIPT)}`,
    `style-src ${sha256(STATUS_PAGE_STYLE)}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return {
    body,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': csp,
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-cache',
    },
  };
}
