// Swagger UI on /openapi.json, from a file rather than inline, so /docs keeps the panel's CSP.
"use strict";
const root = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: root.dataset.openapi,
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  validatorUrl: null, // no online validator badge: the page fetches nothing from other hosts
});
