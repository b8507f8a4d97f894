import { applyD1Migrations, env } from 'cloudflare:test';

// The local D1 of the tests gets the same migrations as `npm start` applies (migrations/).
await applyD1Migrations(env.DB!, env.TEST_MIGRATIONS);
