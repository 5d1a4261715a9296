// ipywidgets labels typeset LaTeX through the MathJax 2 API
// (MathJax.Hub.Queue); Sphinx loads MathJax 3, which lacks it. This shim adds
// that one call to MathJax 3's object, mapped onto its promise-based
// typesetting, so widget labels render maths instead of raising a page error.
// MathJax 3 replaces `window.MathJax` when its (deferred) script runs, so the
// shim is installed once the document has been parsed, before widgets render.
(function () {
  "use strict";
  function typeset(element) {
    var mj = window.MathJax;
    if (mj && mj.typesetPromise) {
      mj.typesetPromise(element ? [element] : undefined).catch(function (err) {
        console.warn("MathJax could not typeset a widget label:", err);
      });
    }
  }
  function install() {
    var mj = window.MathJax;
    if (!mj || mj.Hub) return;
    mj.Hub = {
      Queue: function () {
        for (var i = 0; i < arguments.length; i++) {
          var job = arguments[i];
          // ipywidgets queues ["Typeset", MathJax.Hub, element].
          if (Array.isArray(job) && job[0] === "Typeset") typeset(job[2]);
          else if (typeof job === "function") job();
        }
      },
    };
  }
  document.addEventListener("DOMContentLoaded", install);
  window.addEventListener("load", install);
})();
