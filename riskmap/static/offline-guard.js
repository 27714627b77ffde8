/* Offline guard for third-party pages riskmap serves (ReDoc): an image or script that would load from outside
 * this server is pointed at an empty image instead. ReDoc 2 draws its vendor's logo from a public CDN, which an
 * intranet cannot reach; nothing else on the page needs the internet. */
(function () {
  "use strict";
  var EMPTY = "data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw==";

  function outside(value) {
    if (typeof value !== "string") return false;
    try {
      var url = new URL(value, window.location.href);
      return (url.protocol === "http:" || url.protocol === "https:") && url.origin !== window.location.origin;
    } catch (e) {
      return false;
    }
  }

  var setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (name, value) {
    if (String(name).toLowerCase() === "src" && outside(value)) value = EMPTY;
    return setAttribute.call(this, name, value);
  };
  [window.HTMLImageElement, window.HTMLScriptElement, window.HTMLIFrameElement].forEach(function (type) {
    var desc = type && Object.getOwnPropertyDescriptor(type.prototype, "src");
    if (!desc || !desc.set) return;
    Object.defineProperty(type.prototype, "src", {
      configurable: true, enumerable: desc.enumerable, get: desc.get,
      set: function (value) { desc.set.call(this, outside(value) ? EMPTY : value); }
    });
  });
})();
