import { defineConfig } from 'drizzle-kit'

// Migrations are generated from the one pg-core schema and embedded into the program
// by scripts/embed-migrations.ts, so both drivers (PGlite and postgres.js) run the same SQL.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema.ts',
  out: './drizzle',
})
