/* riskmap: the small DOM helpers the map (/map) and the editor (/edit) share.
 *
 * el() puts user text into the page with textContent only, never as HTML, so a unit named
 * <img src=x onerror=alert(1)> shows as that text; query() leaves out empty parameters; langLink() is the
 * link to this same page in the other language (every other parameter kept).
 */
(function () {
  "use strict";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function query(params) {
    var search = new URLSearchParams();
    Object.keys(params).forEach(function (key) {
      var value = params[key];
      if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
    });
    return search.toString();
  }

  function langLink(className, text, lang) {
    var params = new URLSearchParams(window.location.search);
    params.set("lang", lang === "zh" ? "en" : "zh");
    var link = el("a", className, text);
    link.href = window.location.pathname + "?" + params.toString();
    return link;
  }

  window.riskmapDom = { el: el, query: query, langLink: langLink };
})();
