// Live regions: each element with data-live="URL" is refreshed from URL every 2 seconds.
// The server escapes every value in the fragments it returns; this script adds no markup.
"use strict";
(function () {
  var PERIOD_MS = 2000;
  document.querySelectorAll("[data-live]").forEach(function (region) {
    var last = null;
    function tick() {
      fetch(region.getAttribute("data-live"), {
        credentials: "same-origin",
        cache: "no-store",
        redirect: "follow",
      })
        .then(function (response) {
          // A redirect or 401 means the session ended: reload to reach the login page.
          if (response.redirected || response.status === 401) {
            window.location.reload();
            return null;
          }
          return response.ok ? response.text() : null;
        })
        .then(function (html) {
          // Replace only on change, so buttons under the pointer are not swapped needlessly.
          if (html !== null && html !== last) {
            last = html;
            region.innerHTML = html;
          }
          region.removeAttribute("data-stale");
        })
        .catch(function () {
          region.setAttribute("data-stale", "true");
        })
        .finally(function () {
          window.setTimeout(tick, PERIOD_MS);
        });
    }
    window.setTimeout(tick, PERIOD_MS);
  });
})();
