// hx-confirm, asked only when it applies: an element with data-confirm-if="<CSS selector>"
// asks its hx-confirm question only while something inside it matches the selector (a sync's
// settings form asks only while "Delete its image" is chosen). The pages allow no inline
// script, so this is a file of the site's own. Without it, htmx asks every time.
document.addEventListener("htmx:confirm", (event) => {
  const { elt, question, issueRequest } = event.detail;
  const condition = elt.getAttribute("data-confirm-if");
  if (!question || !condition || elt.querySelector(condition) !== null) {
    return;
  }
  event.preventDefault();
  issueRequest(true);
});
