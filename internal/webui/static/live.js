// kubeask web UI: live questions. Every article marked data-live follows its query
// through server-sent events (a watch the server makes as you); each event carries
// the article rendered again, which replaces the old one. No polling, no inline script.
(function () {
  'use strict';
  function follow(el) {
    var url = el.getAttribute('data-live');
    if (!url || !window.EventSource) { return; }
    var es = new EventSource(url);
    es.addEventListener('query', function (e) {
      var tpl = document.createElement('template');
      tpl.innerHTML = e.data;
      var fresh = tpl.content.firstElementChild;
      if (!fresh) { return; }
      var hadFocus = el.contains(document.activeElement);
      el.replaceWith(fresh);
      el = fresh;
      if (hadFocus) { fresh.setAttribute('tabindex', '-1'); fresh.focus({ preventScroll: true }); }
    });
    es.addEventListener('done', function () { es.close(); el.removeAttribute('data-live'); });
    es.addEventListener('failed', function () { es.close(); });
  }
  document.querySelectorAll('[data-live]').forEach(follow);
})();
