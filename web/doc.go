// Package web is the page content teams use: pick or drop files, write
// captions, send them, and watch each job go through to the prepared file
// and its delivery. It is static HTML, CSS and a small script embedded in
// the binary (no build step, nothing from elsewhere); everything it shows
// comes from the HTTP API (GET /v1/info, POST /v1/statuses, GET
// /v1/events, GET /v1/statuses and /v1/statuses/{id}, DELETE
// /v1/statuses/{id} to cancel or delete), called with the API key the
// person signs in with. The service mounts Handler at / and /assets/.
package web
