// node run-subscription.mjs URL EXPECTED [HEADERS_JSON]: opens GraphiQL at URL (a link whose
// query is a subscription), optionally fills the Headers tab, presses run, prints
// "subscribed", then waits until the result pane shows EXPECTED and prints "received".
import { chromium } from "playwright-core";

const [url, expected, headers] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic"],
});
try {
  const page = await browser.newPage();
  if (headers) {
    // GraphiQL keeps the Headers tab in localStorage (shouldPersistHeaders).
    await page.addInitScript((value) => {
      window.localStorage.setItem("graphiql:headers", value);
    }, headers);
  }
  await page.goto(url);
  await page.waitForSelector(".graphiql-execute-button", { timeout: 20000 });
  await page.waitForTimeout(500); // the schema's introspection settles
  await page.click(".graphiql-execute-button");
  await page.waitForTimeout(1000); // the WebSocket subscribes
  console.log("subscribed");
  await page.waitForFunction(
    (text) => (document.querySelector(".result-window")?.textContent || "").includes(text),
    expected,
    { timeout: 20000 },
  );
  console.log("received");
} finally {
  await browser.close();
}
