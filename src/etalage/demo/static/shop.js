/* Pootjes & Co: the consent forms work without JavaScript; this only spares the page reload. */
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-consent-form") || !window.fetch) {
      return;
    }
    event.preventDefault();
    fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      credentials: "same-origin",
      redirect: "manual"
    }).then(function () {
      var banner = document.getElementById("consent-banner");
      if (banner && banner.contains(form)) {
        banner.parentNode.removeChild(banner);
      } else {
        window.location.reload();
      }
    }, function () {
      form.submit();
    });
  });
})();
