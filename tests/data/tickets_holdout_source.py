"""Hand-written held-out tickets (never used to tune the lexicon): python tests/data/tickets_holdout_source.py

Writes tests/data/tickets_holdout.jsonl in the labelled-set format; incidents are those of tickets_labelled.jsonl.
"""

import json
from pathlib import Path

L, N, S = "linked", "new_incident", "standard_support"
CHAT1, CHAT2, TALK1, TALK3 = "INC-0000000c4a71", "INC-0000000c4a72", "INC-00000074a1a1", "INC-00000074a1a3"
GUIDE1, SUP1, SUP3 = "INC-00000061de01", "INC-0000005b0001", "INC-0000005b0003"

ROWS = [
    (L, CHAT1, "Chat", "Replies vanish", "When we answer a visitor the reply just sits there with a clock icon. Visitors say they see nothing."),
    (L, CHAT1, None, "is chat broken??", "our chat replies are not reaching website visitors at all since 9:15"),
    (L, CHAT1, "Chat", "Mensajes sin entregar", "Los clientes en el chat no ven nuestras respuestas, se quedan pendientes."),
    (L, CHAT2, "Chat", "Widget takes ages", "The chat bubble on our homepage needs 20+ seconds to appear, really slow."),
    (L, CHAT2, None, "chat widget lag", "chat widget is lagging badly on our store, loads super slow for shoppers"),
    (L, TALK1, "Talk", "Dropped calls everywhere", "Our phone agents lose the caller after half a minute on every call."),
    (L, TALK1, None, "llamadas caídas", "Las llamadas telefónicas se caen solas después de unos segundos, todo el equipo."),
    (L, TALK1, "Talk", "Call quality - disconnecting", "Calls keep disconnecting in the middle of conversations."),
    (L, TALK3, "Talk", "Can't dial out", "Agents cannot place outbound calls, we get an error tone immediately."),
    (L, TALK3, None, "outbound phone calls failing", "Every outbound call from Talk fails to connect with an error since this morning."),
    (L, GUIDE1, "Guide", "Help centre offline", "Our help centre gives a 502 Bad Gateway to all visitors."),
    (L, GUIDE1, None, "knowledge base down", "Customers report our help center is down, pages never load."),
    (L, GUIDE1, "Guide", "Centro de ayuda caído", "Nuestra base de conocimiento no abre, sale error 502."),
    (L, SUP1, "Support", "Queue won't load", "Agents stare at a spinner: ticket views time out after a minute."),
    (L, SUP1, None, "views timing out", "Our Support views are timing out for everyone, cannot work the queue."),
    (L, SUP3, "Support", "Files won't attach", "Uploading a screenshot to a ticket fails with an upload error for all agents."),
    (L, SUP3, None, "adjuntos con error", "No podemos adjuntar archivos a los tickets, la subida falla con error."),
    (N, None, "Chat", "Offline form broken", "The chat offline form stopped working, visitors get an error after submit."),
    (N, None, "Chat", "Chatbot not answering", "Our chatbot stopped responding to all visitors, it is broken since 10am."),
    (N, None, "Talk", "Caller ID wrong", "Since this morning all outbound caller IDs show as Unknown, it stopped working for every line."),
    (N, None, "Talk", "IVR menu fails", "Callers hear an error message in the IVR menu and nothing happens, all our numbers."),
    (N, None, "Guide", "Community posts failing", "Posting in the Guide community fails with an error for all users."),
    (N, None, "Guide", "No se pueden publicar artículos", "Al publicar artículos en Guide sale un error, no funciona para ningún editor."),
    (N, None, "Support", "SLA timers frozen", "SLA timers stopped updating on all tickets, broken since last night."),
    (N, None, "Support", "Macros erroring", "Applying any macro fails with an error for all our agents."),
    (N, None, "Support", "Reportes vacíos", "Los informes de Explore no cargan, dan error para todos."),
    (S, None, "Chat", "Change widget colour", "How can I change the colour of the chat widget to match our brand?"),
    (S, None, "Talk", "New number", "We'd like to buy an additional UK phone number, what's the cost?"),
    (S, None, "Guide", "Theme customisation", "Where do I edit the header template of our help center theme?"),
    (S, None, "Support", "Agent role question", "Is it possible to create a custom role that can only view tickets?"),
    (S, None, "Support", "Invoice copy", "Could you resend our last invoice? Our accountant lost it."),
    (S, None, "Chat", "Idea: canned responses", "It would be nice if canned responses supported placeholders."),
    (S, None, "Talk", "Cancelar líneas", "Queremos cancelar dos líneas de nuestra suscripción de Talk."),
    (S, None, "Guide", "Traducción de artículos", "¿Cómo puedo traducir los artículos del centro de ayuda al portugués?"),
    (S, None, "Support", "Our trigger sends twice", "We edited our trigger yesterday and now our own notification goes out twice."),
    (S, None, "Chat", "Login issue for one agent", "One agent on our team can't log into chat, the others are fine. We changed her role."),
    (S, None, "Talk", "Greeting upload", "How do we upload a custom voicemail greeting?"),
    (S, None, "Support", "Export tickets", "Is there a way to export all tickets to CSV for our audit?"),
    (S, None, "Guide", "Password reset emails", "How can end users reset their help center password?"),
    (S, None, "Chat", "Pricing", "What is the price difference between the chat plans?"),
]


def main() -> None:
    out = Path(__file__).with_name("tickets_holdout.jsonl")
    with out.open("w") as f:
        for i, (outcome, incident, product, subject, body) in enumerate(ROWS):
            payload = {"ticket_id": str(90_000 + i), "subject": subject, "description": body, "product": product,
                       "organization": str(500 + i), "requester": str(70_000 + i), "priority": "normal",
                       "created_at": "2026-03-02T10:00:00+00:00"}
            f.write(json.dumps({"kind": "ticket", "expected": {"outcome": outcome, "incident_id": incident},
                                "payload": payload}, ensure_ascii=False) + "\n")
    print(f"wrote {len(ROWS)} held-out tickets to {out}")


if __name__ == "__main__":
    main()
