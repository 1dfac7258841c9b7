// zhive broker dashboard: polls api/status once a second and draws it.
// Every text from the broker (names, hosts, error messages: they come
// from workers, which may be hostile) is put in the page as text
// (textContent), never as markup.
'use strict';

(function () {
  const POLL_MS = 1000;          // between two polls
  const RETRY_MS = 2000;         // after a failed poll
  const STALE_AFTER = 3;         // failed polls before the data is shown as stale
  const TOKEN_KEY = 'zhive-dashboard-token';

  const state = {
    token: null,                 // bearer token, null none
    status: null,                // the last /api/status
    timer: null,                 // next poll
    failures: 0,                 // polls failed in a row
    errorTimes: new Map(),       // error sequence number -> when first seen (ms)
    errorsKey: '',               // what the errors table shows
    errorsIncarnation: '',       // the broker incarnation errorTimes belong to
    hover: -1,                   // chart interval under the pointer
  };

  const $ = (id) => document.getElementById(id);
  const stat = (name) => document.querySelector('[data-stat="' + name + '"]');

  // ------------------------------------------------------------------
  // Formatting

  const numberFormat = new Intl.NumberFormat('en-US');
  function count(n) { return numberFormat.format(n || 0); }
  function rate(r) {
    if (!r) return '0';
    return r >= 100 ? numberFormat.format(Math.round(r)) : r.toFixed(r >= 10 ? 1 : 2);
  }
  function age(seconds) {
    if (seconds < 1) return seconds.toFixed(1) + ' s';
    if (seconds < 90) return Math.round(seconds) + ' s';
    if (seconds < 5400) return Math.round(seconds / 60) + ' min';
    if (seconds < 172800) return Math.round(seconds / 3600) + ' h';
    return Math.round(seconds / 86400) + ' d';
  }
  function clock(ms) {
    const d = new Date(ms);
    return [d.getHours(), d.getMinutes(), d.getSeconds()].map((v) => String(v).padStart(2, '0')).join(':');
  }
  function failedOf(t) {
    return (t.error || 0) + (t.timeout || 0) + (t.worker_lost || 0) + (t.unknown_function || 0);
  }

  // An element with a class and text
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function cell(row, text, className) {
    const td = el('td', className, text);
    row.appendChild(td);
    return td;
  }
  function emptyRow(tbody, columns, text) {
    const row = el('tr');
    const td = cell(row, text, 'empty');
    td.colSpan = columns;
    tbody.replaceChildren(row);
  }

  // ------------------------------------------------------------------
  // Token: from #token=..., else this tab's storage, else asked for

  function tokenFromHash() {
    const hash = location.hash.replace(/^#/, '');
    for (const part of hash.split('&')) {
      const at = part.indexOf('=');
      if (at > 0 && part.slice(0, at) === 'token') {
        try { return decodeURIComponent(part.slice(at + 1)); } catch (e) { return part.slice(at + 1); }
      }
    }
    return null;
  }
  function takeToken() {
    const given = tokenFromHash();
    if (given !== null) {
      state.token = given;
      try { sessionStorage.setItem(TOKEN_KEY, given); } catch (e) { /* storage off: memory only */ }
      // Out of the address bar (and of screenshots); it never went to the server
      history.replaceState(null, '', location.pathname + location.search);
    } else if (state.token === null) {
      try { state.token = sessionStorage.getItem(TOKEN_KEY); } catch (e) { state.token = null; }
    }
  }
  function askToken(reason) {
    $('auth-reason').textContent = reason;
    $('auth').hidden = false;
    setStatus('auth', 'token needed');
    $('auth-token').focus();
  }

  // ------------------------------------------------------------------
  // Polling

  function setStatus(kind, text) {
    $('status').dataset.state = kind;
    $('status-text').textContent = text;
  }
  function schedule(ms) {
    clearTimeout(state.timer);
    state.timer = setTimeout(poll, ms);
  }
  async function poll() {
    const headers = { Accept: 'application/json' };
    if (state.token) headers.Authorization = 'Bearer ' + state.token;
    let response;
    try {
      response = await fetch('api/status', { headers, cache: 'no-store' });
    } catch (e) {
      return failed('broker unreachable');
    }
    if (response.status === 401) {
      const reason = state.token
        ? 'The broker refused this token (401). Give the one it was started with (--http-token).'
        : 'The broker answered 401: /api/status needs Authorization: Bearer TOKEN.';
      askToken(reason);
      return;                   // until a token is given
    }
    if (!response.ok) return failed('broker answered ' + response.status);
    let status;
    try {
      status = await response.json();
    } catch (e) {
      return failed('unreadable status');
    }
    state.failures = 0;
    state.status = status;
    document.querySelector('main').classList.remove('stale');
    setStatus('live', 'live');
    render(status);
    schedule(POLL_MS);
  }
  function failed(why) {
    state.failures++;
    if (state.failures >= STALE_AFTER) document.querySelector('main').classList.add('stale');
    setStatus(state.failures >= STALE_AFTER ? 'down' : 'stale', why + ' — retrying');
    schedule(RETRY_MS);
  }

  // ------------------------------------------------------------------
  // Drawing the status

  function render(s) {
    const workers = s.workers || [];
    const queues = s.queues || [];
    const totals = s.totals || {};
    const rates = s.rates || {};
    $('meta').textContent = 'broker ' + (s.version || '?') + ' · incarnation ' + (s.incarnation || '?');
    $('updated').textContent = 'updated ' + clock(Date.now());

    let slots = 0, busy = 0;
    for (const w of workers) { slots += w.concurrency || 0; busy += Math.min(w.in_flight || 0, w.concurrency || 0); }
    stat('workers').textContent = count(workers.length);
    stat('workers-sub').textContent = count(s.workers_ready) + ' ready · ' + count(s.workers_draining) + ' draining';
    stat('slots').textContent = count(busy) + ' / ' + count(slots);
    stat('slots-sub').textContent = slots ? Math.round((100 * busy) / slots) + '% busy' : 'no slots';
    stat('waiting').textContent = count(s.waiting);
    stat('waiting-sub').textContent = count(s.unanswered) + ' unanswered · ' + count(s.clients_connected) +
      (s.clients_connected === 1 ? ' client' : ' clients');
    stat('rate').textContent = rate((rates.ok_per_second || 0) + (rates.failed_per_second || 0)) + '/s';
    stat('rate-sub').textContent = rate(rates.ok_per_second) + ' ok · ' + rate(rates.failed_per_second) + ' failed (10 s)';
    stat('ok').textContent = count(totals.ok);
    stat('ok-sub').textContent = count(totals.submitted) + ' submitted';
    stat('failed').textContent = count(failedOf(totals));
    stat('failed-sub').textContent = count(totals.timeout) + ' timeout · ' + count(totals.worker_lost) + ' lost · ' +
      count(totals.queue_full) + ' refused';

    renderWorkers(workers);
    renderQueues(queues);
    renderErrors(s.errors || [], s.errors_recorded || 0);
    drawChart();
  }

  function renderWorkers(workers) {
    const tbody = $('workers').tBodies[0];
    $('workers-count').textContent = workers.length ? String(workers.length) : '';
    if (!workers.length) return emptyRow(tbody, 8, 'No worker is connected');
    const sorted = workers.slice().sort((a, b) => (a.host + a.name).localeCompare(b.host + b.name));
    const rows = sorted.map((w) => {
      const row = el('tr');
      row.dataset.worker = w.name;
      const name = cell(row, w.name);
      name.appendChild(el('div', 'small', 'pid ' + w.pid));
      cell(row, w.host, 'host');
      const functions = cell(row, '');
      const chips = el('div', 'chips');
      const list = w.functions || [];
      for (const f of list.slice(0, 8)) chips.appendChild(el('span', 'chip', f));
      if (list.length > 8) chips.appendChild(el('span', 'chip', '+' + (list.length - 8)));
      functions.appendChild(chips);
      cell(row, count(w.concurrency), 'num');
      const flight = cell(row, count(w.in_flight), 'num');
      const bar = el('span', 'bar');
      const fill = el('span');
      fill.style.width = Math.min(100, w.concurrency ? (100 * w.in_flight) / w.concurrency : 0) + '%';
      bar.appendChild(fill);
      flight.appendChild(bar);
      cell(row, count(w.done), 'num done');
      cell(row, age(w.last_seen_age_seconds || 0) + ' ago', 'num');
      const st = cell(row, '');
      st.appendChild(el('span', 'badge ' + (w.draining ? 'draining' : 'ready'), w.draining ? 'draining' : 'ready'));
      if (w.local) { st.appendChild(document.createTextNode(' ')); st.appendChild(el('span', 'badge', 'local')); }
      return row;
    });
    tbody.replaceChildren(...rows);
  }

  function renderQueues(queues) {
    const tbody = $('queues').tBodies[0];
    $('queues-count').textContent = queues.length ? String(queues.length) : '';
    if (!queues.length) return emptyRow(tbody, 8, 'No task has been submitted yet');
    const rows = queues.map((q) => {
      const t = q.totals || {};
      const failed = failedOf(t);
      const row = el('tr');
      row.dataset.function = q.function;
      cell(row, q.function, 'mono');
      cell(row, count(q.waiting), 'num' + (q.waiting ? '' : ' zero'));
      cell(row, count(q.in_flight), 'num' + (q.in_flight ? '' : ' zero'));
      const r = (q.ok_per_second || 0) + (q.failed_per_second || 0);
      cell(row, rate(r), 'num' + (r ? '' : ' zero'));
      cell(row, q.oldest_age_seconds ? age(q.oldest_age_seconds) : '–', 'num' + (q.oldest_age_seconds ? '' : ' zero'));
      cell(row, count(t.ok), 'num');
      cell(row, count(failed), 'num' + (failed ? ' bad' : ' zero'));
      cell(row, count(q.workers), 'num' + (q.workers ? '' : ' bad'));
      return row;
    });
    tbody.replaceChildren(...rows);
  }

  const OUTCOMES = {
    error: 'bad', timeout: 'warn', worker_lost: 'bad', unknown_function: 'warn', queue_full: 'warn',
  };

  function renderErrors(errors, recorded) {
    const tbody = $('errors').tBodies[0];
    $('errors-count').textContent = recorded ? (recorded > errors.length ? 'last ' + errors.length + ' of ' + count(recorded) : String(recorded)) : '';
    // Redrawn only when a new error came: a message stays selectable
    const incarnation = (state.status && state.status.incarnation) || '';
    const key = incarnation + ':' + recorded + ':' + errors.length;
    if (key === state.errorsKey) return;
    // A restarted broker numbers its errors from 0 again: times known are not its
    if (incarnation !== state.errorsIncarnation) state.errorTimes = new Map();
    state.errorsIncarnation = incarnation;
    state.errorsKey = key;
    if (!errors.length) return emptyRow(tbody, 6, 'No errors');
    const now = Date.now();
    const seen = new Map();
    const rows = errors.map((e, i) => {
      // The newest is number recorded - 1: its time is fixed when first seen
      const number = recorded - 1 - i;
      const at = state.errorTimes.has(number) ? state.errorTimes.get(number) : now - (e.age_seconds || 0) * 1000;
      seen.set(number, at);
      const row = el('tr');
      const time = cell(row, clock(at), 'mono');
      time.title = new Date(at).toString();
      cell(row, e.function, 'mono');
      const outcome = cell(row, '');
      outcome.appendChild(el('span', 'badge ' + (OUTCOMES[e.outcome] || 'bad'), e.outcome));
      cell(row, e.type, 'mono');
      cell(row, e.message, 'message');
      cell(row, e.worker || '–', e.worker ? '' : 'zero');
      return row;
    });
    state.errorTimes = seen;
    tbody.replaceChildren(...rows);
  }

  // ------------------------------------------------------------------
  // The chart: ok and failed per interval, 10 minutes, on a canvas

  function niceMax(v) {
    if (v <= 0) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }
  function css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

  function drawChart() {
    const canvas = $('chart');
    const history = (state.status && state.status.history) || { ok: [], failed: [], interval_seconds: 1 };
    const interval = history.interval_seconds || 1;
    const slots = Math.round(600 / interval);
    const ok = history.ok || [], bad = history.failed || [];
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth, height = canvas.clientHeight;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const g = canvas.getContext('2d');
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, width, height);
    const left = 48, right = 12, top = 10, bottom = 24;
    const w = width - left - right, h = height - top - bottom;
    let peak = 0;
    for (let i = 0; i < ok.length; i++) peak = Math.max(peak, (ok[i] + (bad[i] || 0)) / interval);
    const max = niceMax(peak);
    const font = '11px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif';
    g.font = font;
    g.lineWidth = 1;
    // Grid and its labels
    g.fillStyle = css('--muted');
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    for (let i = 0; i <= 4; i++) {
      const y = top + h - (h * i) / 4;
      g.strokeStyle = css('--grid');
      g.beginPath(); g.moveTo(left, Math.round(y) + 0.5); g.lineTo(left + w, Math.round(y) + 0.5); g.stroke();
      const v = (max * i) / 4;
      g.fillText(v >= 1000 ? (v / 1000).toFixed(v % 1000 ? 1 : 0) + 'k' : String(+v.toFixed(2)), left - 8, y);
    }
    g.textAlign = 'center';
    g.textBaseline = 'top';
    for (let m = 10; m >= 0; m -= 2) {
      const x = left + w - (w * m * 60) / (slots * interval);
      g.fillText(m ? '−' + m + ' min' : 'now', Math.min(Math.max(x, left + 16), left + w - 12), top + h + 7);
    }
    // The series, right-aligned: the newest interval at the right edge
    const step = w / slots;
    const xAt = (i) => left + w - (ok.length - 1 - i) * step - step / 2;
    const yAt = (v) => top + h - (h * Math.min(v, max)) / max;
    function area(values, stroke, fill) {
      if (!values.length) return;
      g.beginPath();
      g.moveTo(xAt(0), top + h);
      for (let i = 0; i < values.length; i++) g.lineTo(xAt(i), yAt(values[i] / interval));
      g.lineTo(xAt(values.length - 1), top + h);
      g.closePath();
      g.fillStyle = fill;
      g.fill();
      g.beginPath();
      for (let i = 0; i < values.length; i++) {
        const x = xAt(i), y = yAt(values[i] / interval);
        if (i) g.lineTo(x, y); else g.moveTo(x, y);
      }
      g.strokeStyle = stroke;
      g.lineWidth = 1.5;
      g.stroke();
      g.lineWidth = 1;
    }
    area(ok, css('--ok'), css('--ok-soft'));
    area(bad, css('--bad'), css('--bad-soft'));
    if (!ok.length) {
      g.fillStyle = css('--muted');
      g.textBaseline = 'middle';
      g.fillText('collecting the first seconds…', left + w / 2, top + h / 2);
    }
    // The interval under the pointer
    const i = state.hover;
    if (i >= 0 && i < ok.length) {
      const x = xAt(i);
      g.strokeStyle = css('--muted');
      g.setLineDash([3, 3]);
      g.beginPath(); g.moveTo(Math.round(x) + 0.5, top); g.lineTo(Math.round(x) + 0.5, top + h); g.stroke();
      g.setLineDash([]);
      const ago = (ok.length - 1 - i) * interval;
      const label = rate(ok[i] / interval) + ' ok/s · ' + rate((bad[i] || 0) / interval) + ' failed/s · ' +
        (ago ? age(ago) + ' ago' : 'now');
      g.font = '600 ' + font;
      const tw = g.measureText(label).width + 16;
      const bx = Math.min(Math.max(x - tw / 2, left), left + w - tw);
      g.fillStyle = css('--panel');
      g.strokeStyle = css('--border');
      g.fillRect(bx, top, tw, 22);
      g.strokeRect(bx + 0.5, top + 0.5, tw - 1, 21);
      g.fillStyle = css('--text');
      g.textAlign = 'left';
      g.textBaseline = 'middle';
      g.fillText(label, bx + 8, top + 11);
    }
  }

  function onPointer(event) {
    const history = state.status && state.status.history;
    if (!history || !history.ok) return;
    const canvas = $('chart');
    const box = canvas.getBoundingClientRect();
    const slots = Math.round(600 / (history.interval_seconds || 1));
    const step = (box.width - 60) / slots;
    const fromRight = Math.floor((box.width - 12 - (event.clientX - box.left)) / step);
    const i = history.ok.length - 1 - fromRight;
    state.hover = fromRight >= 0 && i >= 0 ? i : -1;
    drawChart();
  }

  // ------------------------------------------------------------------
  // Start

  function start() {
    takeToken();
    $('auth-form').addEventListener('submit', (event) => {
      event.preventDefault();
      state.token = $('auth-token').value;
      try { sessionStorage.setItem(TOKEN_KEY, state.token); } catch (e) { /* memory only */ }
      $('auth-token').value = '';
      $('auth').hidden = true;
      setStatus('connecting', 'connecting…');
      poll();
    });
    window.addEventListener('hashchange', () => {
      if (tokenFromHash() === null) return;
      takeToken();
      $('auth').hidden = true;
      poll();
    });
    $('metrics-link').addEventListener('click', (event) => {
      // With a token the link alone would get 401: fetch it with the header
      if (!state.token) return;
      event.preventDefault();
      fetch('metrics', { headers: { Authorization: 'Bearer ' + state.token }, cache: 'no-store' })
        .then((r) => r.text())
        .then((text) => {
          const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
          window.open(url, '_blank', 'noopener');
        });
    });
    const canvas = $('chart');
    canvas.addEventListener('mousemove', onPointer);
    canvas.addEventListener('mouseleave', () => { state.hover = -1; drawChart(); });
    window.addEventListener('resize', drawChart);
    drawChart();
    poll();
  }

  start();
})();
