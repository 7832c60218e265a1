// ESLint (flat config) with typescript-eslint's type-aware rules, run by
// `npm run lint` / `make lint` after the strict tsc check. Kept to rules that
// find real defects (promises nobody awaits, promises where a callback
// expects a plain value) plus the framework boundary.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', 'node_modules/**', 'olm-bundle/**'] },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-for-in-array': 'error',
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      'no-debugger': 'error',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  {
    // tests: a callback may be async where its caller ignores the result (a socket's connect handler)
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }] },
  },
  {
    // no `any` in the product (an untyped library is wrapped in one typed adapter instead)
    files: ['operator/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'error' },
  },
  {
    // The framework's public API is operator/framework/index.ts: code outside
    // framework/ imports only that, so the framework can change inside.
    files: ['operator/**/*.ts'],
    ignores: ['operator/framework/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)framework/(?!index\\.js$)[^/]+$',
              message: 'import the framework through operator/framework/index.ts (add the export there if it is missing)',
            },
          ],
        },
      ],
    },
  },
);
