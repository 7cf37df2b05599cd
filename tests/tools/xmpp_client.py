#!/usr/bin/python3
"""A real XMPP client (Debian's python3-slixmpp) for the integration tests.

    xmpp_client.py HOST PORT JID PASSWORD

Connects to HOST:PORT (PortMux) as JID — so its stream header says
to='<JID's domain>' — negotiates the stream (STARTTLS when the server
offers it, certificates not checked: the test's are self-signed), logs in,
fetches the roster and sends itself a message. Prints "features: ..." (the
stream features the server offered first), then "login ok" and "message ok"
as each step succeeds; exits 0 only when the message came back. A stream
error (e.g. host-unknown from a server that does not serve the domain) is
printed as "stream error: CONDITION". Gives up after 15 s.
"""
import asyncio
import logging
import ssl
import sys

import slixmpp


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password):
        super().__init__(jid, password)
        self.ok = False
        self.token = "portmux-test-%d" % id(self)
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("message", self.message)
        self.add_event_handler("stream_error", self.stream_error)
        self.add_event_handler("failed_auth", self.failed)
        self.add_event_handler("disconnected", self.gone)
        self.register_handler(slixmpp.xmlstream.handler.Callback(
            "features", slixmpp.xmlstream.matcher.MatchXPath(
                "{http://etherx.jabber.org/streams}features"),
            self.on_features))
        self.seen_features = False

    def on_features(self, stanza):
        if not self.seen_features:
            self.seen_features = True
            names = sorted(child.tag.split("}")[-1] for child in
                           stanza.xml)
            print("features: " + " ".join(names), flush=True)

    async def start(self, event):
        print("login ok", flush=True)
        self.send_presence()
        await self.get_roster()
        self.send_message(mto=self.boundjid.bare, mbody=self.token)

    def message(self, msg):
        if msg["body"] == self.token:
            print("message ok", flush=True)
            self.ok = True
            self.disconnect()

    def stream_error(self, err):
        print("stream error: " + err["condition"], flush=True)
        self.disconnect()

    def failed(self, event):
        print("auth failed", flush=True)
        self.disconnect()

    def gone(self, event):
        self.loop.stop()


def main():
    host, port, jid, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], \
        sys.argv[4]
    logging.basicConfig(level=logging.DEBUG if __import__("os").environ.get("XDEBUG") else logging.CRITICAL)
    c = Client(jid, password)
    c.connect(address=(host, port), force_starttls=False)
    c.loop.call_later(15, c.loop.stop)
    c.loop.run_forever()
    sys.exit(0 if c.ok else 1)


if __name__ == "__main__":
    main()
