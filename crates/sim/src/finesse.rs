//! The Finesse side of the browser proof: a small gadget page served from a second HTTPS
//! origin (`https://<finesse>:8445/desktop`, DOMAIN.md) that calls the Config API with
//! `fetch` — GET, or GET then PUT with the record's `changeStamp` — using Basic auth, so the
//! browser must pass CORS preflights, and writes the outcome into `<pre id="result">` as JSON
//! for `chromium --headless --dump-dom`.
//!
//! Query parameters: `api` (e.g. `https://ucce-a:8443`, required), `method` (GET|PUT, default
//! GET), `resource` (default `agent/5000`), `user`, `password` (default the lab account),
//! `credentials` (fetch's mode: include|omit|same-origin, default include).
//! Outcomes: `{"ok":true,"status":200,"step":"PUT",...}` or
//! `{"ok":false,"error":"TypeError: Failed to fetch",...}`.

/// Path of the gadget page.
pub const GADGET_PATH: &str = "/desktop/gadget.html";

/// The gadget page (static; all parameters are read by its script).
pub const GADGET_HTML: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ucce-sim Finesse gadget</title>
</head>
<body>
<h1>Config API gadget (ucce-sim)</h1>
<p id="target"></p>
<pre id="result">pending</pre>
<script>
(async function () {
  const out = document.getElementById('result');
  const p = new URLSearchParams(location.search);
  const api = (p.get('api') || '').replace(/\/+$/, '');
  const method = (p.get('method') || 'GET').toUpperCase();
  const resource = p.get('resource') || 'agent/5000';
  const user = p.get('user') || 'administrator@lab.local';
  const password = p.get('password') || 'ucce-lab';
  const credentials = p.get('credentials') || 'include';
  const url = api + '/unifiedconfig/config/' + resource;
  document.getElementById('target').textContent = method + ' ' + url;
  const headers = {
    'Authorization': 'Basic ' + btoa(user + ':' + password),
    'Accept': 'application/xml'
  };
  const write = function (o) {
    o.method = method;
    o.url = url;
    out.textContent = JSON.stringify(o);
  };
  try {
    if (!api) { throw new Error('missing api parameter'); }
    let r = await fetch(url, { method: 'GET', headers: headers, credentials: credentials, mode: 'cors' });
    if (method === 'GET' || !r.ok) {
      write({ ok: r.ok, status: r.status, step: 'GET' });
      return;
    }
    const doc = new DOMParser().parseFromString(await r.text(), 'application/xml');
    const stamp = doc.getElementsByTagName('changeStamp')[0];
    const root = doc.documentElement.nodeName;
    const body = '<' + root + '><changeStamp>' + (stamp ? stamp.textContent : '0') +
      '</changeStamp><description>updated by gadget</description></' + root + '>';
    const putHeaders = Object.assign({ 'Content-Type': 'application/xml' }, headers);
    r = await fetch(url, { method: 'PUT', headers: putHeaders, body: body, credentials: credentials, mode: 'cors' });
    write({ ok: r.ok, status: r.status, step: 'PUT' });
  } catch (e) {
    write({ ok: false, error: String(e) });
  }
})();
</script>
</body>
</html>
"#;

/// The desktop landing page, linking the gadget.
pub const DESKTOP_HTML: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Finesse (ucce-sim)</title></head>
<body><h1>Finesse desktop (ucce-sim)</h1><p><a href="/desktop/gadget.html">gadget</a></p></body></html>
"#;
