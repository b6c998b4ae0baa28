"""Writes train/validation/test.jsonl of domain_qa from the hand-written passages below.

Each passage summarises a legal rule (EU/UK law, as stated in the named source) with three
questions, a reference answer and the facts an answer must state. Splits are by passage, so test
passages never appear in train. Run: python datasets/domain_qa/build.py
"""
import json, pathlib, sys
P = []  # (category, source, passage, [(question, answer, facts), ...])
P.append(("data_protection", "GDPR Art. 33", "Under Article 33 GDPR, a controller must notify a personal data breach to the competent supervisory authority without undue delay and, where feasible, not later than 72 hours after becoming aware of it, unless the breach is unlikely to result in a risk to people's rights and freedoms. A notification made after 72 hours must give the reasons for the delay. A processor must notify the controller without undue delay after becoming aware of a breach.", [
 ("How long does a controller have to notify a data breach to the supervisory authority?", "Without undue delay and, where feasible, within 72 hours of becoming aware of the breach.", [["72 hours", "seventy-two hours"], "without undue delay"]),
 ("Is every personal data breach notifiable to the authority?", "No. A breach that is unlikely to result in a risk to people's rights and freedoms need not be notified to the supervisory authority.", [["unlikely to result in a risk", "no risk"], "rights and freedoms"]),
 ("What must a processor do when it discovers a breach?", "The processor must notify the controller without undue delay after becoming aware of the breach.", ["notify the controller", "without undue delay"]),
]))
P.append(("data_protection", "GDPR Art. 12 and 15", "A person may ask an organisation for a copy of their personal data (a subject access request) under Article 15 GDPR. The organisation must respond without undue delay and at the latest within one month of receiving the request. It may extend this by two further months where necessary, taking into account the complexity and number of requests, but must tell the person about the extension within the first month. The first copy must be provided free of charge; a reasonable fee based on administrative costs may be charged for further copies.", [
 ("What is the deadline for answering a subject access request?", "Without undue delay and at the latest within one month of receiving the request.", [["one month", "1 month", "a month"]]),
 ("Can the organisation take longer than the normal deadline?", "Yes, it can extend by two further months where necessary because of complexity or the number of requests, but it must tell the person within the first month.", [["two further months", "two more months", "2 further months", "two months"], "within the first month"]),
 ("Can an organisation charge for a copy of my data?", "The first copy is free of charge; a reasonable fee based on administrative costs may be charged for further copies.", [["free of charge", "free"], ["reasonable fee", "administrative costs"]]),
]))
P.append(("data_protection", "GDPR Art. 83", "Article 83 GDPR sets two tiers of administrative fines. Infringements of obligations such as those of controllers and processors (for example security or breach notification) can be fined up to 10 million euros or, for an undertaking, up to 2% of total worldwide annual turnover of the preceding financial year, whichever is higher. Infringements of the basic principles, data subjects' rights or international transfer rules can be fined up to 20 million euros or up to 4% of total worldwide annual turnover, whichever is higher. Fines must be effective, proportionate and dissuasive.", [
 ("What is the highest GDPR fine?", "Up to 20 million euros or 4% of total worldwide annual turnover of the preceding financial year, whichever is higher.", [["20 million", "€20 million", "twenty million"], ["4%", "4 percent", "four per cent"], "whichever is higher"]),
 ("What is the maximum fine for failing to notify a breach?", "Breach notification is a controller obligation in the lower tier: up to 10 million euros or 2% of worldwide annual turnover, whichever is higher.", [["10 million", "€10 million", "ten million"], ["2%", "2 percent", "two per cent"]]),
 ("What qualities must a GDPR fine have?", "Fines must be effective, proportionate and dissuasive.", ["effective", "proportionate", "dissuasive"]),
]))
P.append(("data_protection", "GDPR Art. 8", "Under Article 8 GDPR, where consent is the basis for offering online (information society) services directly to a child, processing is lawful if the child is at least 16 years old. Below that age, consent must be given or authorised by the holder of parental responsibility. Member States may set a lower age by law, but not below 13 years. The controller must make reasonable efforts to verify that consent is given or authorised by the parent, taking into account available technology.", [
 ("At what age can a child consent to an online service under the GDPR?", "At 16, unless the Member State has set a lower age by law, which cannot be below 13.", [["16", "sixteen"]]),
 ("Can a country lower the age of digital consent?", "Yes, Member States may set a lower age by law, but not below 13 years.", [["13", "thirteen"], ["lower age", "lower"]]),
 ("Who consents for a younger child, and what must the service do?", "The holder of parental responsibility must give or authorise consent, and the controller must make reasonable efforts to verify this.", [["parental responsibility", "parent"], ["reasonable efforts", "verify"]]),
]))
P.append(("data_protection", "GDPR Art. 6", "Article 6 GDPR lists six lawful bases for processing personal data: the person's consent; performance of a contract with the person or steps before entering one; compliance with a legal obligation; protection of someone's vital interests; performance of a task in the public interest or in official authority; and the legitimate interests of the controller or a third party, unless overridden by the person's interests or fundamental rights. Public authorities cannot rely on legitimate interests for processing in performance of their tasks.", [
 ("How many lawful bases for processing does the GDPR list?", "Six: consent, contract, legal obligation, vital interests, public task and legitimate interests.", [["six", "6"], "consent", "legitimate interests"]),
 ("Can a public authority rely on legitimate interests?", "Not for processing carried out in performance of its tasks.", [["cannot", "can't", "not"], ["performance of their tasks", "performance of its tasks", "its tasks"]]),
 ("When does the legitimate interests basis not apply?", "When the controller's or third party's interests are overridden by the person's interests or fundamental rights.", [["overridden", "override"], ["fundamental rights", "rights"]]),
]))
P.append(("consumer_rights", "EU Consumer Rights Directive 2011/83", "For distance and off-premises contracts, the EU Consumer Rights Directive gives consumers 14 days to withdraw without giving any reason. For sales of goods the period runs from the day the consumer acquires physical possession of the goods. If the trader did not inform the consumer of the right of withdrawal, the period is extended by up to 12 months. The trader must reimburse all payments, including standard delivery costs, within 14 days of being informed of the withdrawal, but may withhold the refund until the goods are received back or the consumer shows proof of sending them.", [
 ("How long do I have to cancel an online purchase in the EU?", "14 days without giving a reason; for goods the period starts when you receive them.", [["14 days", "fourteen days"], ["physical possession", "receive", "received"]]),
 ("What if the shop never told me about the right to withdraw?", "The withdrawal period is extended by up to 12 months.", [["12 months", "twelve months", "a year"]]),
 ("When must the trader refund me after I withdraw?", "Within 14 days of being told of the withdrawal, including standard delivery costs, though it may wait until the goods are back or you show proof of sending.", [["14 days", "fourteen days"], ["delivery costs", "standard delivery"], ["proof of sending", "received back", "goods are back"]]),
]))
P.append(("consumer_rights", "EU Sale of Goods Directive 2019/771", "Under the EU Sale of Goods Directive, the seller is liable for any lack of conformity that exists when the goods are delivered and becomes apparent within two years of delivery. Any lack of conformity that becomes apparent within one year of delivery is presumed to have existed at delivery unless the seller proves otherwise; Member States may extend this period to two years. The consumer is first entitled to repair or replacement, and to a price reduction or termination of the contract where these fail.", [
 ("How long is the legal guarantee on goods in the EU?", "At least two years from delivery for any lack of conformity.", [["two years", "2 years"], ["delivery", "delivered"]]),
 ("Who has to prove that a fault existed at delivery?", "For faults that appear within one year, the fault is presumed to have existed at delivery unless the seller proves otherwise.", [["one year", "1 year", "a year"], ["presumed", "presumption"], "seller"]),
 ("What remedies can the consumer ask for first?", "Repair or replacement first; a price reduction or termination of the contract if these fail.", ["repair", "replacement", ["price reduction", "reduction"]]),
]))
P.append(("consumer_rights", "EU Regulation 261/2004", "Under EU Regulation 261/2004, as interpreted by the Court of Justice, passengers whose flight arrives three hours or more late, or is cancelled at short notice, may claim fixed compensation: 250 euros for flights of 1,500 km or less; 400 euros for flights within the EU of more than 1,500 km and for other flights between 1,500 and 3,500 km; and 600 euros for all other flights. Compensation is not owed where the airline proves the problem was caused by extraordinary circumstances that could not have been avoided even if all reasonable measures had been taken.", [
 ("How late must a flight arrive to claim compensation?", "Three hours or more late at arrival.", [["three hours", "3 hours"]]),
 ("How much compensation is owed for a short flight under 1,500 km?", "250 euros.", [["250", "€250"]]),
 ("When can an airline refuse to pay compensation?", "When it proves the problem was caused by extraordinary circumstances that could not have been avoided even with all reasonable measures.", ["extraordinary circumstances", ["reasonable measures", "could not have been avoided"]]),
]))
P.append(("consumer_rights", "UK Consumer Rights Act 2015", "Under the UK Consumer Rights Act 2015, a consumer who buys faulty goods has a short-term right to reject them for a full refund within 30 days of delivery. After that, or if the consumer prefers, the trader gets one opportunity to repair or replace the goods. A fault that appears within six months of delivery is presumed to have been present at delivery unless the trader proves otherwise. In England and Wales a consumer can bring a claim for up to six years after delivery (five years in Scotland).", [
 ("How long do I have to reject faulty goods for a full refund in the UK?", "Within 30 days of delivery you can reject them for a full refund under the short-term right to reject.", [["30 days", "thirty days"], ["full refund", "refund"]]),
 ("What happens if a fault appears after the first month?", "The trader gets one opportunity to repair or replace the goods.", [["one opportunity", "one chance", "one attempt"], "repair", "replace"]),
 ("How long can I make a claim about faulty goods in England?", "Up to six years after delivery in England and Wales (five years in Scotland).", [["six years", "6 years"]]),
]))
P.append(("employment", "UK Employment Rights Act 1996 s.86", "In the UK, an employer must give an employee at least the statutory minimum notice: one week if the employee has worked continuously for one month to two years, then one week for each full year of service, up to a maximum of 12 weeks after 12 years. An employee who has worked for at least one month must give the employer at least one week's notice. A contract can give longer notice than the statutory minimum but not shorter.", [
 ("What notice must an employer give someone employed for five years?", "At least five weeks: one week for each full year of service.", [["five weeks", "5 weeks"], ["each full year", "per year", "one week for each"]]),
 ("What is the maximum statutory notice an employer must give?", "12 weeks, reached after 12 years of service.", [["12 weeks", "twelve weeks"], ["12 years", "twelve years"]]),
 ("How much notice must an employee give?", "At least one week once they have worked for one month, unless the contract requires more.", [["one week", "1 week", "a week"], ["one month", "a month"]]),
]))
P.append(("employment", "UK Working Time Regulations 1998", "Almost all UK workers are entitled to 5.6 weeks' paid holiday a year, which is 28 days for someone working five days a week. Employers can choose to include bank holidays in this entitlement. Part-time workers get the same entitlement pro rata. Statutory holiday is capped at 28 days even for someone working six days a week, and it cannot be replaced by payment in lieu except when the employment ends.", [
 ("How much paid holiday is a full-time UK worker entitled to?", "5.6 weeks a year, which is 28 days for a five-day week.", [["5.6 weeks"], ["28 days", "twenty-eight days"]]),
 ("Can bank holidays count towards statutory leave?", "Yes, the employer can include bank holidays in the 5.6-week entitlement.", [["include bank holidays", "bank holidays can be included", "bank holidays count", "include them"]]),
 ("Can my employer pay me instead of giving me my holiday?", "No, statutory holiday cannot be replaced by pay in lieu except when the employment ends.", [["in lieu", "instead"], ["employment ends", "leave the job", "end of employment"]]),
]))
P.append(("employment", "UK Employment Rights Act 1996 Part X", "In Great Britain, an employee who started work on or after 6 April 2012 generally needs two years' continuous employment to claim unfair dismissal, although dismissals for automatically unfair reasons such as whistleblowing need no qualifying period. A claim must normally be made to an employment tribunal within three months less one day of the effective date of termination. Before making a claim, the employee must notify Acas to start early conciliation.", [
 ("How long must I have worked to claim unfair dismissal?", "Generally two years' continuous employment, except for automatically unfair reasons such as whistleblowing.", [["two years", "2 years"], ["automatically unfair", "whistleblowing"]]),
 ("What is the deadline for an unfair dismissal claim?", "Three months less one day from the effective date of termination.", [["three months less one day", "3 months less 1 day", "three months minus one day"]]),
 ("What must I do before going to an employment tribunal?", "Notify Acas to start early conciliation.", ["Acas", "early conciliation"]),
]))
P.append(("employment", "UK statutory redundancy pay", "Employees in Great Britain with at least two years' continuous service are entitled to statutory redundancy pay. It is half a week's pay for each full year worked while under 22, one week's pay for each full year worked between 22 and 40, and one and a half weeks' pay for each full year worked at 41 or older. Length of service is capped at 20 years, and weekly pay is capped at a statutory maximum that is updated each April.", [
 ("Who is entitled to statutory redundancy pay?", "Employees with at least two years' continuous service.", [["two years", "2 years"]]),
 ("How is redundancy pay calculated for years worked at age 45?", "One and a half weeks' pay for each full year worked at 41 or older.", [["one and a half weeks", "1.5 weeks"], ["41", "forty-one"]]),
 ("Is there a limit on the years of service counted?", "Yes, service is capped at 20 years, and weekly pay is capped too.", [["20 years", "twenty years"], ["weekly pay is capped", "capped"]]),
]))
P.append(("employment", "UK statutory maternity leave and pay", "Eligible employees in the UK can take up to 52 weeks of statutory maternity leave, made up of 26 weeks of ordinary and 26 weeks of additional maternity leave. Statutory Maternity Pay is paid for up to 39 weeks: 90% of average weekly earnings for the first 6 weeks, then the lower of the standard weekly rate or 90% of average weekly earnings for the remaining 33 weeks. The employee must tell the employer at least 15 weeks before the expected week of childbirth.", [
 ("How long is statutory maternity leave?", "Up to 52 weeks: 26 weeks ordinary and 26 weeks additional leave.", [["52 weeks", "fifty-two weeks", "a year"]]),
 ("How is Statutory Maternity Pay paid?", "For up to 39 weeks: 90% of average weekly earnings for 6 weeks, then the lower of the standard rate or 90% for 33 weeks.", [["39 weeks"], ["90%", "90 per cent"], ["6 weeks", "six weeks"]]),
 ("When must I tell my employer I am pregnant?", "At least 15 weeks before the expected week of childbirth.", [["15 weeks", "fifteen weeks"], ["expected week of childbirth", "due date"]]),
]))
P.append(("employment", "EU Working Time Directive 2003/88", "The EU Working Time Directive limits average weekly working time, including overtime, to 48 hours, averaged over a reference period of up to four months. Workers are entitled to a minimum daily rest of 11 consecutive hours in every 24 hours, a rest break when the working day is longer than six hours, a weekly rest of 24 uninterrupted hours on top of the daily 11 hours, and at least four weeks of paid annual leave.", [
 ("What is the maximum average working week under the EU directive?", "48 hours including overtime, averaged over up to four months.", [["48 hours", "forty-eight hours"], ["overtime"], ["four months", "4 months"]]),
 ("How much daily rest must workers get?", "At least 11 consecutive hours in every 24 hours.", [["11 consecutive hours", "11 hours", "eleven hours"]]),
 ("How much paid annual leave does the directive guarantee?", "At least four weeks of paid annual leave.", [["four weeks", "4 weeks"]]),
]))
P.append(("tenancy", "Housing Act 2004 tenancy deposit rules (England)", "In England, a landlord who takes a deposit for an assured shorthold tenancy must protect it in a government-approved tenancy deposit scheme within 30 days of receiving it, and give the tenant the prescribed information about the scheme within the same 30 days. If the landlord fails to do so, the tenant can apply to court and the landlord may be ordered to pay the tenant between one and three times the deposit. At the end of the tenancy, the deposit must be returned within 10 days of agreeing how much is to be repaid.", [
 ("How quickly must a landlord protect my deposit?", "Within 30 days of receiving it, in a government-approved scheme, with the prescribed information.", [["30 days", "thirty days"], ["government-approved", "approved scheme"]]),
 ("What can I claim if my deposit was never protected?", "A court may order the landlord to pay between one and three times the deposit.", [["one and three times", "1 to 3 times", "one to three times", "up to three times"]]),
 ("When should my deposit be returned after I move out?", "Within 10 days of agreeing how much will be repaid.", [["10 days", "ten days"], ["agreeing", "agreed"]]),
]))
P.append(("civil_procedure", "Civil Procedure Rules Part 27 (England and Wales)", "In England and Wales, most money claims worth up to 10,000 pounds are allocated to the small claims track. The process is designed so that parties can represent themselves, and the losing party usually pays only limited costs such as court fees, not the winner's legal fees. Personal injury claims are allocated to the small claims track only if the injury part is worth no more than 1,000 pounds, or 5,000 pounds for most road traffic whiplash claims.", [
 ("What is the small claims limit in England and Wales?", "Claims worth up to 10,000 pounds are usually on the small claims track.", [["10,000", "£10,000", "ten thousand"]]),
 ("Will I have to pay the other side's lawyer if I lose a small claim?", "Usually not: the loser normally pays only limited costs such as court fees, not legal fees.", [["limited costs", "court fees"], ["not legal fees", "not the winner's legal fees", "no legal fees", "not their legal fees"]]),
 ("Which limits apply to personal injury small claims?", "The injury part must be worth no more than 1,000 pounds, or 5,000 pounds for most road traffic whiplash claims.", [["1,000", "£1,000"], ["5,000", "£5,000"], "whiplash"]),
]))
P.append(("civil_procedure", "Limitation Act 1980 (England and Wales)", "Under the Limitation Act 1980, most claims for breach of contract must be brought within six years of the breach, and claims under a deed within 12 years. Personal injury claims must be brought within three years of the date of the injury or, if later, the date the injured person first knew of it. For a child, the three years start to run at the age of 18.", [
 ("How long do I have to sue for breach of contract?", "Six years from the date of the breach.", [["six years", "6 years"], "breach"]),
 ("What is the time limit for a personal injury claim?", "Three years from the injury or, if later, from when the injured person first knew of it.", [["three years", "3 years"], ["date of knowledge", "first knew", "knew of it"]]),
 ("When does the limitation period start for an injured child?", "The three years start at the age of 18.", [["18", "eighteen"]]),
]))
P.append(("data_protection", "GDPR Art. 17", "Article 17 GDPR gives people the right to have their personal data erased without undue delay in several cases, including when the data is no longer necessary for the purpose it was collected for, when they withdraw consent and there is no other legal ground, when they successfully object, or when the data was processed unlawfully. The right does not apply where processing is necessary for freedom of expression and information, for compliance with a legal obligation, or for the establishment, exercise or defence of legal claims.", [
 ("When can I ask for my data to be erased?", "For example when it is no longer necessary, when you withdraw consent with no other legal ground, when you object, or when it was processed unlawfully.", [["no longer necessary"], ["withdraw consent", "withdrawn consent"], ["unlawfully", "unlawful"]]),
 ("How fast must erasure happen?", "Without undue delay.", ["without undue delay"]),
 ("Can an organisation refuse an erasure request?", "Yes, where processing is needed for freedom of expression, a legal obligation, or legal claims.", [["freedom of expression"], ["legal obligation"], ["legal claims"]]),
]))
P.append(("data_protection", "GDPR Art. 37", "Under Article 37 GDPR, a controller or processor must designate a data protection officer where the processing is carried out by a public authority or body (except courts acting in their judicial capacity), where its core activities consist of processing operations that require regular and systematic monitoring of people on a large scale, or where its core activities consist of large-scale processing of special categories of data or data about criminal convictions. A group of companies may appoint a single data protection officer if the officer is easily accessible from each establishment.", [
 ("Does a public authority need a data protection officer?", "Yes, public authorities and bodies must designate one, except courts acting in their judicial capacity.", [["public authority", "public authorities"], ["courts", "judicial capacity"]]),
 ("When does a private company need a data protection officer?", "When its core activities involve large-scale regular and systematic monitoring of people, or large-scale processing of special categories or criminal conviction data.", [["regular and systematic monitoring", "systematic monitoring"], ["large scale", "large-scale"], ["special categories"]]),
 ("Can several companies share one data protection officer?", "Yes, a group may appoint a single officer if they are easily accessible from each establishment.", [["single", "one"], ["easily accessible"]]),
]))
assert len(P) == 20, len(P)
# Split by passage: test passages are never seen in train.
order = list(range(20))
test_idx = {2, 7, 10, 12, 16, 18}
val_idx = {4, 9, 14, 19}
SYSTEM = "Answer the question using only the reference passage. Be accurate and concise: one to three sentences."
out = {"train": [], "validation": [], "test": []}
for i, (cat, src, passage, qs) in enumerate(P):
    split = "test" if i in test_idx else "validation" if i in val_idx else "train"
    for q, a, facts in qs:
        n = len(out[split]) + 1
        out[split].append({"id": f"dq-{ {'validation': 'val'}.get(split, split)}-{n:03d}", "category": cat, "source": src,
                           "passage": passage, "question": q, "answer": a, "required_facts": facts})
d = pathlib.Path(__file__).resolve().parent
for split, rows in out.items():
    (d / f"{split}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(split, len(rows))
# every fact must be found in its own reference answer
sys.path.insert(0, str(d.parents[1]))
from harness.metrics.fact_coverage import stated, fact_alternatives
for split, rows in out.items():
    for r in rows:
        for alts in fact_alternatives(r["required_facts"]):
            if not stated(alts, r["answer"]):
                print("MISSING", r["id"], alts, "|", r["answer"])
