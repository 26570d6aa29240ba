/**
 * Settings of this browser: how chat replies travel (a developer's choice,
 * so it lives here rather than in the chat header). `?transport=` on the chat
 * URL sets the same value.
 */
import { TransportPicker } from "../chat/transport-picker";
import { useTransportChoice } from "../chat/transport-setting";

export function SettingsPage() {
  const [transport, setTransport] = useTransportChoice();
  return (
    <main id="main" className="settings-page">
      <h1>Settings</h1>
      <section>
        <h2>How replies travel</h2>
        <p className="hint">
          How replies travel from the server. “Background” and “WebSocket” replies are generated
          whether or not the page is listening, so they survive a dropped connection and a reload.
          Applies to the next message; kept in this browser.
        </p>
        <TransportPicker value={transport} onChange={setTransport} />
      </section>
    </main>
  );
}
