// The API reference (OpenAPI at /api/openapi.json), served locally: no CDN, strict CSP.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#swagger-ui" });
});
