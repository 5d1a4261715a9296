// Configure require.js before it loads (it reads a global `require` object),
// so that the widget manager finds every module inside this book's own
// _static/vendor folder and never falls back to a CDN.
(function () {
  "use strict";
  // .../_static/attnbook-require-config.js -> .../_static/vendor/
  var vendor = document.currentScript.src.replace(/[^/]*$/, "") + "vendor/";
  window.require = {
    paths: {
      // anywidget's AMD front end (npm package `anywidget`, dist/index.js).
      anywidget: vendor + "anywidget/index",
      // The html-manager resolves its icon fonts relative to its own module URL.
      "@jupyter-widgets/html-manager": vendor + "html-manager",
    },
  };
})();
