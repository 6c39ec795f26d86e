// The user the services log in as, created once by the mongo image's entrypoint: it runs
// the files of /docker-entrypoint-initdb.d (docker-compose.yml mounts this one there) with
// mongosh as the root user, on an empty data volume only.
//
// `app` is defined in database `app` (so the services' URI says authSource=app) and holds
// readWrite on `app` alone: documents and indexes there, nothing in admin or any other
// database, no user or role management. The root user (`root`, password
// MONGO_ROOT_PASSWORD) is for operators only.
//
// Its password comes from MONGO_APP_PASSWORD, which docker-compose.yml fills from
// MONGO_PASSWORD (the one in the services' MONGODB_URI). A value still holding the
// .env.example placeholder stops the initialisation, for either password.

const placeholder = /change_me/i;
const appPassword = process.env.MONGO_APP_PASSWORD || '';
const rootPassword = process.env.MONGO_INITDB_ROOT_PASSWORD || '';

if (appPassword === '') {
  throw new Error('MONGO_APP_PASSWORD is not set (docker-compose.yml passes MONGO_PASSWORD as it)');
}
if (placeholder.test(appPassword)) {
  throw new Error('MONGO_PASSWORD is still the .env.example placeholder; set a real secret');
}
if (placeholder.test(rootPassword)) {
  throw new Error('MONGO_ROOT_PASSWORD is still the .env.example placeholder; set a real secret');
}

db.getSiblingDB('app').createUser({
  user: 'app',
  pwd: appPassword,
  roles: [{ role: 'readWrite', db: 'app' }],
});
print('init-app-user.js: created user app (readWrite on app)');
