import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import globals from 'globals'

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['client/**', 'examples/vite-app/src/**'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['examples/vite-app/public/**'],
    languageOptions: { globals: { ...globals.serviceworker } },
  },
  {
    files: ['client/worker.js'],
    languageOptions: { globals: { ...globals.serviceworker } },
  },
  {
    ignores: ['client/**', 'examples/vite-app/src/**', 'examples/vite-app/public/**'],
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
)
