// What tests/test_phone_browser.py measures on a page, in one round trip; called with
// [the least touch target size in CSS px]. Returns:
//   innerWidth, scrollWidth: of the page (a page wider than the phone scrolls sideways, or
//     makes a phone browser zoom out: then innerWidth grows);
//   sideways: the elements that scroll sideways themselves (a table in a scrolling box);
//   wrappedBadges: the shown badges whose text takes more than one line;
//   header: the header's height;
//   small: the shown links, buttons, fields and summaries of the main content and the header
//     narrower or lower than the target (a check box or radio button is measured by its
//     label: tapping the label toggles it).
([target]) => {
  // shown: not display:none, not inside a closed <details>, not visibility:hidden, not empty
  const visible = (element) => {
    const box = element.getBoundingClientRect();
    return box.width > 0 && box.height > 0 &&
      element.checkVisibility({ contentVisibilityAuto: true, visibilityProperty: true });
  };
  const describe = (element) => {
    const classes = typeof element.className === 'string' && element.className.trim()
      ? '.' + element.className.trim().split(/\s+/).join('.')
      : '';
    const text = (element.textContent || element.value || element.name || '').trim();
    return element.tagName.toLowerCase() + (element.id ? '#' + element.id : '') + classes +
      ' "' + text.slice(0, 30) + '"';
  };
  const report = {
    innerWidth: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    sideways: [],
    wrappedBadges: [],
    small: [],
    header: document.querySelector('header.topbar').getBoundingClientRect().height,
  };
  for (const element of document.querySelectorAll('body *')) {
    const overflow = getComputedStyle(element).overflowX;
    const scrolls = overflow === 'auto' || overflow === 'scroll';
    if (scrolls && element.scrollWidth > element.clientWidth + 1) {
      report.sideways.push(describe(element));
    }
  }
  for (const badge of document.querySelectorAll('.badge')) {
    if (!visible(badge)) continue;
    const range = document.createRange();
    range.selectNodeContents(badge);
    const tops = new Set([...range.getClientRects()].map((rect) => Math.round(rect.top)));
    if (tops.size > 1) report.wrappedBadges.push(describe(badge));
  }
  const targets = 'main a, main button, main input, main select, main textarea, main summary,' +
    ' header a, header button, header summary';
  for (const element of document.querySelectorAll(targets)) {
    if (!visible(element) || element.type === 'hidden') continue;
    let box = element.getBoundingClientRect();
    if ((element.type === 'checkbox' || element.type === 'radio') && element.labels.length) {
      box = element.labels[0].getBoundingClientRect();
    }
    if (box.height < target || box.width < target) {
      const size = Math.round(box.width) + '×' + Math.round(box.height);
      report.small.push(describe(element) + ' ' + size);
    }
  }
  return report;
}
