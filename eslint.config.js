// ESLint (flat config): the recommended JavaScript and typescript-eslint rules over src/, test/
// and scripts/. Formatting is Prettier's job (.prettierrc.json), not the linter's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config({ ignores: ['dist/**', 'node_modules/**', 'bin/**'] }, js.configs.recommended, ...tseslint.configs.recommended, {
  rules: {
    // `_name` marks a parameter a callback signature requires but this code does not use
    '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
  },
});
