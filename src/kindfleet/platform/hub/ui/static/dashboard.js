// The dashboard's own script: say when the hub stops answering and when it answers again.
// htmx polls each live part of a page; a poll that fails is simply tried again at the next
// interval, so a page rides out a hub restart by itself. This only tells the reader.
// No inline script or eval anywhere (the page's CSP forbids both).
(function () {
  "use strict";
  var failing = false;

  function banner() {
    return document.getElementById("connection");
  }

  function say(text, trouble) {
    var el = banner();
    if (!el) {
      return;
    }
    el.textContent = text;
    el.classList.toggle("trouble", trouble);
  }

  function stamp() {
    var el = document.getElementById("updated");
    if (el) {
      el.textContent = "Live, updated " + new Date().toLocaleTimeString();
    }
  }

  function lost(why) {
    failing = true;
    say("The hub is not answering (" + why + "); retrying every few seconds. " +
        "What you see is from the last answer.", true);
  }

  document.addEventListener("htmx:sendError", function () { lost("no connection"); });
  document.addEventListener("htmx:timeout", function () { lost("timed out"); });
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail && event.detail.xhr ? event.detail.xhr.status : 0;
    lost(status === 503 ? "its store is unavailable" : "it answered " + status);
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (!event.detail || !event.detail.successful) {
      return;
    }
    stamp();
    if (failing) {
      failing = false;
      say("The hub answers again.", false);
    }
  });
})();
