"""Writes train/validation/test.jsonl of content_rewrite from the hand-written items below.

Each source is a plain notice; each item rewrites it in one brand's voice within a word limit,
keeping every fact (listed in required_facts, checked against the reference below). Splits are
by source text, so test sources never appear in train. Run: python datasets/content_rewrite/build.py
"""
import json, pathlib, sys

BRANDS = {
    "summit": ("Summit & Pine", "outdoor gear shop: warm, rugged and adventurous; short sentences; speaks to 'you'; nature imagery, no corporate jargon"),
    "ledgerly": ("Ledgerly", "banking app: calm, precise and reassuring; plain words; no exclamation marks, slang or emoji"),
    "bubbles": ("Bubbles Bakery", "neighbourhood bakery: playful and cheerful; light baking puns welcome; exclamation marks allowed"),
    "helix": ("Helix Health Clinic", "medical clinic: kind, plain-language and empathetic; no jargon; never alarming"),
    "voltline": ("Voltline", "electric scooter brand: bold, energetic and punchy; urban; very short sentences"),
    "harbour": ("Harbour & Co. Solicitors", "law firm: formal, courteous and precise; complete sentences; no contractions"),
}

# (source, [(brand, max_words, reference rewrite), x3], required facts)
S = [
("Notice: the shop will close at 4 pm on Friday 12 July for staff training. Normal opening hours resume on Saturday 13 July at 9 am.",
 [("summit", 35, "Heads up: we're closing at 4 pm on Friday 12 July for crew training. The doors swing open again Saturday 13 July at 9 am."),
  ("bubbles", 35, "We're rolling out early! The bakery closes at 4 pm on Friday 12 July for staff training, and we'll be back, fresh as ever, on Saturday 13 July at 9 am."),
  ("harbour", 40, "Please note that our office will close at 4 pm on Friday 12 July for staff training. Normal opening hours will resume on Saturday 13 July at 9 am.")],
 ["4 pm", "12 July", "training", "9 am", "13 July"]),
("From 1 March the monthly subscription price will increase from 8 pounds to 10 pounds. Existing customers keep the old price until 31 May.",
 [("ledgerly", 35, "From 1 March, the monthly subscription will cost 10 pounds instead of 8 pounds. If you are an existing customer, you keep the current price until 31 May."),
  ("voltline", 30, "Price update. From 1 March, the monthly plan goes from 8 pounds to 10 pounds. Already riding with us? You keep 8 pounds until 31 May."),
  ("summit", 35, "A trail note for you: from 1 March the monthly subscription rises from 8 pounds to 10 pounds. Already with us? You keep the old price until 31 May.")],
 ["1 March", "8 pounds", "10 pounds", "31 May"]),
("Due to a supplier delay, orders placed after 20 November will ship within 10 working days instead of 3. We apologise for the inconvenience.",
 [("summit", 35, "Our supplier hit rough terrain. Orders placed after 20 November will ship within 10 working days instead of 3. Sorry for the longer trek, and thanks for your patience."),
  ("bubbles", 35, "Oh crumbs! A supplier delay means orders placed after 20 November will ship within 10 working days instead of 3. We're sorry for the wait!"),
  ("ledgerly", 35, "Because of a supplier delay, orders placed after 20 November will ship within 10 working days instead of 3. We apologise for the inconvenience.")],
 ["supplier", "20 November", "10 working days", "3"]),
("The mobile app will be unavailable for scheduled maintenance on Sunday 6 October from 1 am to 5 am. Card payments will continue to work during this time.",
 [("ledgerly", 40, "Our app will be unavailable for scheduled maintenance on Sunday 6 October from 1 am to 5 am. Your card payments will continue to work as normal during this time."),
  ("voltline", 30, "Pit stop. The app is down for maintenance Sunday 6 October, 1 am to 5 am. Card payments keep rolling the whole time."),
  ("helix", 40, "Our app will be offline for planned maintenance on Sunday 6 October from 1 am to 5 am. Please don't worry: card payments will keep working during this time.")],
 ["6 October", "1 am", "5 am", "card payments"]),
("New patients can now book appointments online. Bookings open 14 days in advance. Please arrive 10 minutes early for your first visit.",
 [("helix", 35, "Good news for new patients: you can now book appointments online, up to 14 days in advance. For your first visit, please arrive 10 minutes early so we can welcome you."),
  ("harbour", 35, "New clients may now book appointments online. Bookings open 14 days in advance. We kindly ask that you arrive 10 minutes early for your first appointment."),
  ("bubbles", 35, "New faces, welcome! You can now book online, up to 14 days in advance. Pop in 10 minutes early for your first visit and say hello!")],
 ["online", "14 days", "10 minutes", "first"]),
("Our winter sale starts on 27 December. Selected items are reduced by up to 40 percent while stocks last. The sale ends on 8 January.",
 [("summit", 35, "The winter sale kicks off on 27 December. Selected gear is up to 40 percent off while stocks last. Grab yours before the trail closes on 8 January."),
  ("voltline", 30, "Winter sale. Starts 27 December. Up to 40 percent off selected gear while stocks last. Ends 8 January. Go."),
  ("bubbles", 35, "Our winter sale rises on 27 December! Selected treats are up to 40 percent off while stocks last, so get them before the sale ends on 8 January!")],
 ["27 December", "40 percent", "while stocks last", "8 January"]),
("We are recalling the 500 ml steel water bottle, batch 2291, because the lid may crack. Stop using it and return it to any store for a full refund.",
 [("summit", 40, "Safety first: we're recalling the 500 ml steel water bottle, batch 2291, because the lid may crack. Please stop using it and return it to any store for a full refund."),
  ("helix", 40, "For your safety, we are recalling the 500 ml steel water bottle from batch 2291, as the lid may crack. Please stop using it and return it to any store for a full refund."),
  ("harbour", 45, "We are recalling the 500 ml steel water bottle, batch 2291, because the lid may crack. Customers should stop using the bottle and return it to any store for a full refund.")],
 ["500 ml", "batch 2291", "lid may crack", "stop using", "full refund"]),
("Starting 1 April, statements will be sent by email only. Customers who still want paper statements must request them by 15 March.",
 [("ledgerly", 35, "From 1 April, we will send your statements by email only. If you would still like paper statements, please request them by 15 March."),
  ("harbour", 35, "With effect from 1 April, statements will be sent by email only. Clients who wish to continue receiving paper statements must request them by 15 March."),
  ("helix", 35, "From 1 April, we'll send your statements by email only. If you'd rather keep getting paper statements, just ask us by 15 March.")],
 ["1 April", "email only", "paper statements", "15 March"]),
("The clinic's phone lines are open Monday to Friday from 8 am to 6 pm. For urgent problems outside these hours, call 111.",
 [("helix", 35, "You can reach us by phone Monday to Friday, 8 am to 6 pm. If something urgent comes up outside these hours, please call 111 and they will help you."),
  ("ledgerly", 35, "Our phone lines are open Monday to Friday from 8 am to 6 pm. For urgent problems outside these hours, please call 111."),
  ("harbour", 35, "Our telephone lines are open Monday to Friday from 8 am to 6 pm. For urgent matters outside these hours, please call 111.")],
 ["Monday to Friday", "8 am", "6 pm", "111"]),
("A new scooter model, the V3, launches on 5 May. It has a range of 45 km and a top speed of 25 km/h. Pre-orders open on 20 April.",
 [("voltline", 30, "Meet the V3. 45 km of range. 25 km/h top speed. Launching 5 May. Pre-orders open 20 April. Be first."),
  ("summit", 35, "Say hello to the V3, launching 5 May. It goes 45 km on a charge with a top speed of 25 km/h. Pre-orders open on 20 April."),
  ("ledgerly", 35, "The V3 launches on 5 May. It offers a range of 45 km and a top speed of 25 km/h. Pre-orders open on 20 April.")],
 ["V3", "5 May", "45 km", "25 km/h", "20 April"]),
("Free delivery is now available on all orders over 30 pounds. Orders under 30 pounds have a delivery charge of 3.50 pounds.",
 [("bubbles", 30, "Sweet news! Delivery is now free on all orders over 30 pounds. Orders under 30 pounds have a small delivery charge of 3.50 pounds."),
  ("voltline", 25, "Free delivery. Every order over 30 pounds. Under 30 pounds? Just 3.50 pounds delivery."),
  ("summit", 30, "Good news for your next haul: delivery is free on all orders over 30 pounds. Orders under 30 pounds cost 3.50 pounds to deliver.")],
 [["free delivery", "delivery is now free", "delivery is free"], "over 30 pounds", "3.50 pounds"]),
("The car park will be closed for resurfacing from 3 to 7 June. Please use the public car park on Mill Street during this period.",
 [("helix", 35, "Our car park will be closed for resurfacing from 3 to 7 June. During this time, please use the public car park on Mill Street. We're sorry for any inconvenience."),
  ("harbour", 35, "Please be advised that our car park will be closed for resurfacing from 3 to 7 June. Visitors are asked to use the public car park on Mill Street during this period."),
  ("bubbles", 35, "Our car park is getting a fresh new topping from 3 to 7 June! While it's closed for resurfacing, please park in the public car park on Mill Street.")],
 ["car park", "resurfacing", "3 to 7 June", "Mill Street"]),
# validation sources
("Our office is moving. From 2 September you can find us at 14 Quay Road, Bristol. Our phone number stays the same.",
 [("harbour", 30, "Please note that our office is relocating. From 2 September, we will be at 14 Quay Road, Bristol. Our telephone number will remain the same."),
  ("summit", 30, "We're on the move. From 2 September, find us at 14 Quay Road, Bristol. Same phone number, new basecamp."),
  ("ledgerly", 30, "Our office is moving. From 2 September, you can find us at 14 Quay Road, Bristol. Our phone number will not change.")],
 ["2 September", "14 Quay Road", "Bristol", ["phone number stays the same", "same phone number", "phone number will not change", "telephone number will remain the same"]]),
("Flu vaccinations are available for patients aged 65 and over from 1 October. Book by phone or online. The vaccine is free for eligible patients.",
 [("helix", 35, "Flu vaccinations are available from 1 October for patients aged 65 and over. You can book by phone or online, and the vaccine is free if you are eligible."),
  ("bubbles", 35, "Roll up your sleeves! From 1 October, flu vaccinations are available for patients aged 65 and over. Book by phone or online, and it's free for eligible patients!"),
  ("ledgerly", 35, "From 1 October, flu vaccinations are available for patients aged 65 and over. You can book by phone or online. The vaccine is free for eligible patients.")],
 ["flu", "65 and over", "1 October", "phone or online", "free"]),
("Two-factor authentication will be required for all accounts from 10 February. Set it up in Settings, then Security, before that date to avoid being locked out.",
 [("ledgerly", 35, "From 10 February, two-factor authentication will be required for all accounts. Please set it up in Settings, then Security, before that date so you are not locked out."),
  ("voltline", 30, "Lock it down. Two-factor authentication is required from 10 February. Set it up in Settings, then Security, before then. Don't get locked out."),
  ("harbour", 40, "From 10 February, two-factor authentication will be required for all accounts. Clients should set it up under Settings, then Security, before that date in order to avoid being locked out.")],
 ["two-factor authentication", "10 February", "Settings", "Security", "locked out"]),
("The Saturday market stall returns on 4 May, open from 8 am to 1 pm every Saturday until the end of September.",
 [("bubbles", 30, "We're back, baby! Our Saturday market stall returns on 4 May, open 8 am to 1 pm every Saturday until the end of September!"),
  ("summit", 30, "The Saturday market stall is back on 4 May. Find us there from 8 am to 1 pm every Saturday until the end of September."),
  ("voltline", 25, "Saturday stall is back. From 4 May. 8 am to 1 pm. Every Saturday until the end of September.")],
 ["4 May", "8 am", "1 pm", "every Saturday", "end of September"]),
# test sources
("Repairs booked before 30 June are 20 percent cheaper. Bring your item to the workshop with proof of purchase. Repairs take around 5 working days.",
 [("summit", 35, "Book a repair before 30 June and save 20 percent. Bring your gear to the workshop with proof of purchase, and we'll have it trail-ready in around 5 working days."),
  ("voltline", 30, "Repairs. 20 percent cheaper before 30 June. Bring your ride and proof of purchase to the workshop. Back in around 5 working days."),
  ("ledgerly", 35, "Repairs booked before 30 June are 20 percent cheaper. Please bring your item to the workshop with proof of purchase. Repairs take around 5 working days.")],
 ["30 June", "20 percent", "proof of purchase", "5 working days"]),
("Blood test results are usually ready within 3 working days. We will only call you if a follow-up appointment is needed. Results can also be viewed in the patient portal.",
 [("helix", 40, "Your blood test results are usually ready within 3 working days. We'll only call you if you need a follow-up appointment, and you can also see your results in the patient portal."),
  ("harbour", 40, "Blood test results are usually available within 3 working days. Patients will be telephoned only if a follow-up appointment is required. Results may also be viewed in the patient portal."),
  ("ledgerly", 40, "Blood test results are usually ready within 3 working days. We will call you only if a follow-up appointment is needed. You can also view your results in the patient portal.")],
 ["3 working days", "follow-up appointment", "patient portal"]),
("Gift cards bought from 1 January are valid for 24 months instead of 12. Cards bought earlier keep their original expiry date.",
 [("bubbles", 30, "Treat yourself to more time! Gift cards bought from 1 January are valid for 24 months instead of 12. Cards bought earlier keep their original expiry date."),
  ("ledgerly", 30, "Gift cards bought from 1 January are valid for 24 months instead of 12. Cards bought before then keep their original expiry date."),
  ("voltline", 25, "Gift cards now last 24 months, not 12. Bought from 1 January? You're covered. Earlier cards keep their original expiry date.")],
 ["1 January", "24 months", "12", "original expiry date"]),
("Our free legal advice evening takes place on the first Tuesday of each month from 6 pm to 8 pm. Places are limited to 12, so please book in advance.",
 [("harbour", 40, "Our free legal advice evening is held on the first Tuesday of each month from 6 pm to 8 pm. As places are limited to 12, we kindly ask that you book in advance."),
  ("helix", 40, "Join our free advice evening on the first Tuesday of each month, from 6 pm to 8 pm. There are only 12 places, so please book ahead to make sure you get one."),
  ("summit", 35, "Free advice evening: first Tuesday of every month, 6 pm to 8 pm. Only 12 places around the fire, so book in advance.")],
 ["free", "first Tuesday", "6 pm", "8 pm", "12"]),
]
assert len(S) == 20
SPLIT = ["train"] * 12 + ["validation"] * 4 + ["test"] * 4
d = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(d.parents[1]))
from harness.metrics.fact_coverage import fact_alternatives, stated  # noqa: E402
from harness.core.text import words  # noqa: E402

out = {"train": [], "validation": [], "test": []}
bad = []
for (source, rewrites, facts), split in zip(S, SPLIT):
    for brand, max_words, ref in rewrites:
        name, voice = BRANDS[brand]
        n = len(out[split]) + 1
        row = {"id": f"cr-{ {'validation': 'val'}.get(split, split)}-{n:03d}", "category": brand, "brand": name, "voice": voice,
               "max_words": max_words, "source": source, "rewrite": ref, "required_facts": facts}
        if len(words(ref)) > max_words:
            bad.append((row["id"], "too long", len(words(ref)), max_words))
        bad += [(row["id"], "missing", alts) for alts in fact_alternatives(facts) if not stated(alts, ref)]
        out[split].append(row)
assert not bad, "\n".join(map(str, bad))
for split, rows in out.items():
    (d / f"{split}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(split, len(rows))
