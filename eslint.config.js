// Lint: eslint's and typescript-eslint's recommended rules (syntax-only, so a run takes seconds), over
// the sources, tests, benchmarks and scripts. Formatting is prettier's (.prettierrc.json), not a lint rule.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'build/',
      'dist/',
      '.dist.versions/',
      'imports/',
      'test/fixtures/',
      'test/golden/',
      '**/*.d.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        TextDecoder: 'readonly',
        performance: 'readonly',
      },
    },
    rules: {
      // `_name` marks what is unused on purpose (a position in a tuple, a callback's argument).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // Control characters are matched on purpose: to refuse them in names and paths, and to show them as ?.
      'no-control-regex': 'off',
    },
  },
  {
    // Tests read loosely typed YAML and JSON back.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
