// The dashboard's script: call the JSON API from buttons, confirm halt and resume in a dialog,
// swap in server-rendered parts (`data-refresh`) on a timer or as a run's events arrive.
// Same origin only: the browser sends the token cookie itself.
(function () {
  'use strict';

  // Every event name of a run's stream (GET /api/runs/{id}/events names each message by it).
  var RUN_EVENTS = ['run-started', 'phase-started', 'activity-started', 'activity-finished',
    'hypothesis-checked', 'safeguard-checked', 'targets-selected', 'fault-applied',
    'fault-reverted', 'surge-figures', 'fail-fast-tripped', 'warning', 'interrupted',
    'rollbacks-skipped', 'aborted', 'run-finished'];

  function flash(text) {
    var el = document.getElementById('flash');
    if (el) { el.textContent = text; }
  }

  // Replaces the element's content with its part, unless the user is inside it (focus kept).
  function refresh(el, force) {
    // Not while a dialog is open or the user is inside the part: nothing moves under them.
    if (!force && (document.querySelector('dialog[open]') ||
        (el.contains(document.activeElement) && document.activeElement !== document.body))) {
      return Promise.resolve();
    }
    return fetch(el.getAttribute('data-refresh'), { headers: { 'Accept': 'text/html' } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) {
        if (text !== null && text !== el.getAttribute('data-last')) {
          el.innerHTML = text;
          el.setAttribute('data-last', text);
        }
      })
      .catch(function () { /* the next tick tries again */ });
  }

  function post(url, body) {
    return fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
      body: body || '{}'
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        return { ok: r.ok, status: r.status, body: j };
      });
    });
  }

  function refreshAround(button) {
    var part = button.closest('[data-refresh]');
    if (part) { return refresh(part, true); }
    location.reload();
    return Promise.resolve();
  }

  // Buttons that call the API: data-post (URL), data-body (JSON), data-then (run|refresh|stay).
  document.addEventListener('click', function (ev) {
    var button = ev.target.closest('button[data-post]');
    if (!button) { return; }
    button.disabled = true;
    post(button.getAttribute('data-post'), button.getAttribute('data-body')).then(function (a) {
      button.disabled = false;
      if (!a.ok) {
        flash((a.body && a.body.error) || ('the server answered ' + a.status));
        return;
      }
      var then = button.getAttribute('data-then');
      if (then === 'run' && a.body.run_id) {
        location.href = '/runs/' + encodeURIComponent(a.body.run_id);
      } else if (then === 'stay') {
        flash('Asked; the page follows the run.');
      } else {
        flash('Done.');
        refreshAround(button);
      }
    }, function () {
      button.disabled = false;
      flash('The server could not be reached.');
    });
  });

  // Dialogs: data-open="id" opens one (focus goes to its first field), data-close cancels.
  document.addEventListener('click', function (ev) {
    var opener = ev.target.closest('[data-open]');
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute('data-open'));
      if (dialog && !dialog.open) {
        dialog.querySelector('.result').textContent = '';
        dialog.showModal();
        var first = dialog.querySelector('textarea, input, button[type=submit]');
        if (first) { first.focus(); }
      }
      return;
    }
    var closer = ev.target.closest('[data-close]');
    if (closer) { closer.closest('dialog').close(); }
  });

  document.addEventListener('submit', function (ev) {
    var form = ev.target;
    var action = form.getAttribute('data-action');
    if (action !== 'halt' && action !== 'resume') { return; }
    ev.preventDefault();
    var result = form.querySelector('.result');
    var submit = form.querySelector('button[type=submit]');
    var body = '{}';
    if (action === 'halt') {
      var reason = form.querySelector('textarea').value.trim();
      if (!reason) { result.textContent = 'Say why (it is recorded).'; return; }
      body = JSON.stringify({ reason: reason });
    }
    submit.disabled = true;
    result.textContent = action === 'halt' ? 'Halting…' : 'Resuming…';
    post('/api/' + action, body).then(function (a) {
      submit.disabled = false;
      if (!a.ok) {
        result.textContent = (a.body && a.body.error) || ('the server answered ' + a.status);
        return;
      }
      if (action === 'halt') {
        var n = (a.body.reverted || []).length;
        result.textContent = a.body.reverting
          ? 'Halted; the store is slow, the faults are being reverted.'
          : 'Halted; ' + n + ' fault(s) reverted.';
      } else {
        result.textContent = 'Resumed.';
      }
      location.reload();
    }, function () {
      submit.disabled = false;
      result.textContent = 'The server could not be reached.';
    });
  });

  // Parts refreshed on a timer.
  Array.prototype.forEach.call(document.querySelectorAll('[data-refresh][data-every]'), function (el) {
    var every = parseInt(el.getAttribute('data-every'), 10) || 5000;
    setInterval(function () { if (!document.hidden) { refresh(el, false); } }, every);
  });

  // A running run: its part again as its events arrive (at most about twice a second).
  var live = document.querySelector('#live[data-run]');
  if (live && live.getAttribute('data-live') === 'true' && window.EventSource) {
    var id = live.getAttribute('data-run');
    var stream = new EventSource('/api/runs/' + encodeURIComponent(id) + '/events');
    var pending = false;
    var soon = function () {
      if (pending) { return; }
      pending = true;
      setTimeout(function () { pending = false; refresh(live, true); }, 500);
    };
    RUN_EVENTS.forEach(function (name) { stream.addEventListener(name, soon); });
    stream.addEventListener('end', function () {
      stream.close();
      live.setAttribute('data-live', 'false');
      Array.prototype.forEach.call(document.querySelectorAll('button[data-post$="/abort"]'), function (b) {
        b.remove();
      });
      setTimeout(function () { refresh(live, true); }, 100);
    });
  }
})();
