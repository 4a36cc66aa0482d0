// The theme toggle's behaviour (an inline script in ThemeToggle.astro, allowed by its hash: see src/lib/sitePolicy.ts).
(() => {
  const root = document.documentElement;
  const button = document.getElementById('theme-toggle');
  const media = matchMedia('(prefers-color-scheme: dark)');
  const sync = () => {
    const dark = root.dataset.theme === 'dark';
    button.setAttribute('aria-pressed', String(dark));
    button.querySelector('.icon').textContent = dark ? '☾' : '☀';
    button.querySelector('.state').textContent = dark ? 'on' : 'off';
    button.title = dark ? 'Switch to the light theme' : 'Switch to the dark theme';
  };
  const stored = () => { try { return localStorage.getItem('theme'); } catch { return null; } };
  button.addEventListener('click', () => {
    const next = root.dataset.theme === 'dark' ? 'light' : 'dark';
    root.dataset.theme = next;
    try { localStorage.setItem('theme', next); } catch {}
    sync();
    document.dispatchEvent(new CustomEvent('themechange', { detail: next }));
  });
  media.addEventListener('change', (e) => {
    if (stored()) return;
    root.dataset.theme = e.matches ? 'dark' : 'light';
    sync();
    document.dispatchEvent(new CustomEvent('themechange', { detail: root.dataset.theme }));
  });
  sync();
})();
