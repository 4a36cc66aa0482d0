// The theme before first paint (an inline script in BaseLayout, allowed by its hash: see src/lib/sitePolicy.ts):
// ?theme=dark|light (embedded widgets), else the reader's stored choice, else the system preference.
(() => {
  let choice = new URLSearchParams(location.search).get('theme');
  if (choice !== 'dark' && choice !== 'light') {
    choice = null;
    try { choice = localStorage.getItem('theme'); } catch {}
  }
  const dark = choice ? choice === 'dark' : matchMedia('(prefers-color-scheme: dark)').matches;
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
})();
