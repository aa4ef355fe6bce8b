#!/bin/sh
# A deploy without a CI service, run from the app's checkout on the web server, for an app whose
# build does not stamp itself: stamp sets the version (the git commit), the build is copied over
# the web root without deleting (pages still open keep their chunks; prune deletes them later),
# and notify --dist announces it once the public URL serves it.
# Needs NOTIFY_TOKEN, DEPLOY_NOTIFY_URL (https://sidecar.example), WEB_ROOT (/srv/www) and
# APP_URL (https://app.example/).
set -eu
npm ci
npm run build
npx --no deploy-notify stamp --dist dist --app web
cp -R dist/. "$WEB_ROOT"/
npx --no deploy-notify notify --url "$DEPLOY_NOTIFY_URL" --dist dist --wait-live "$APP_URL" --timeout 5m
