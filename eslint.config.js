import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import globals from 'globals'

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      'coverage/',
      'test-artifacts/',
      'examples/*/dist/',
      // Type-checked by test/package.test.ts against the packed package, which lint runs before.
      'test/fixtures/package-consumer/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.js', 'bench/*.js', 'scripts/*.js'] } },
    },
    rules: {
      eqeqeq: ['error', 'always'],
      // Fastify plugins and hooks are async by convention, awaited or not.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // Plain JavaScript is not type-checked; its lint stays syntactic.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // Apps' CommonJS configs (npm init writes "type": "commonjs"), loaded with require().
    files: ['test/fixtures/ci-app/webpack.config.js'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.commonjs } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // vitest's asymmetric matchers (expect.any(String)) are typed any by design.
    files: ['test/**'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off', '@typescript-eslint/no-unsafe-argument': 'off' },
  },
  {
    files: ['client/**', 'server/status-page/browser/**', 'examples/vite-app/src/**', 'test/fixtures/*-app/src/**'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['examples/vite-app/public/**', 'client/worker.js'],
    languageOptions: { globals: { ...globals.serviceworker } },
  },
  {
    ignores: [
      'client/**',
      'server/status-page/browser/**',
      'examples/vite-app/src/**',
      'examples/vite-app/public/**',
      'test/fixtures/*-app/src/**',
    ],
    languageOptions: { globals: { ...globals.node } },
  },
)
