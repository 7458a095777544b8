/*
 * The API page (/api/docs): Swagger UI over this service's OpenAPI document.
 *
 * SwaggerUIBundle comes from /vendor/swagger-ui/swagger-ui-bundle.js (the PyPI package
 * swagger-ui-bundle-v2, served by web/api_docs.py), loaded by the page before this module.
 * No validator badge (it would call an outside service), no inline script: the page keeps
 * the Content-Security-Policy of every other page.
 */

const DOCUMENT_URL = '/api/v1/openapi.json';

function start() {
  const SwaggerUIBundle = window.SwaggerUIBundle;
  if (typeof SwaggerUIBundle !== 'function') {
    console.error('[api-docs] Swagger UI did not load');
    document.body.dataset.ready = 'error';
    return;
  }
  window.ui = SwaggerUIBundle({
    url: DOCUMENT_URL,
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: 'BaseLayout',
    // Calls from "Try it out" carry the session cookie of a logged-in browser; the same
    // origin rules apply as for the other pages.
    withCredentials: true,
    onComplete: () => {
      document.body.dataset.ready = 'true';
    },
  });
}

start();
