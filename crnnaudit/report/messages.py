"""Message catalogues of the summary for the person concerned: English, French, German.

Each message is a sentence with named fields; :mod:`.summary` fills them from the fact sheet
(:mod:`.facts`), never from anything else, and records which fact each field came from. A
translation is a catalogue written here by a person, not machine translation at run time.
Readability is measured with a formula made for each language (textstat): Flesch reading ease
(English), Kandel and Moles' adaptation (French), Amstad's (German).
"""

from __future__ import annotations

from ..vocabulary import SUMMARY_LANGUAGES as LANGUAGES
READABILITY = {"en": "Flesch reading ease", "fr": "Kandel and Moles' reading ease (Flesch for French)",
               "de": "Amstad's reading ease (Flesch for German)"}

CATALOGUES: dict[str, dict[str, str]] = {
    "en": {
        "looked": "A computer system looked at camera footage from second {start} to second {end}.",
        "flagged": "It flagged this part as possibly showing {cls}. Its score was {score} out of 1; it flags "
                   "footage at {threshold} or more. It gave {cls} a probability of {p}.",
        "not_flagged": "It did not flag this part. Its score was {score} out of 1, below the {threshold} at which it "
                       "flags footage. The most likely class was {cls}, with a probability of {p}.",
        "no_reading": "The footage was not clear enough, or not like what the system learned from, so the system "
                      "gave no finding of its own.",
        "frames": "The frames that counted most for it were {frames}.",
        "cf_flag": "Without {frame_word} {frames}, it would have flagged it as {cls} (score {after} instead of {before}).",
        "cf_clear": "Without {frame_word} {frames}, it would not have flagged it (score {after} instead of {before}).",
        "cf_class": "Without {frame_word} {frames}, it would have seen {cls} instead (score {after} instead of {before}).",
        "cf_score": "Reading its score anyway: without {frame_word} {frames}, the score would have been {after} instead "
                    "of {before}.",
        "cf_differ": "Those are not all among the frames that counted most: what changes an answer is not always "
                     "what weighed most.",
        "cf_none": "Taking out any {k} or fewer frames would not have changed its answer.",
        "cf_none_score": "Taking out any {k} or fewer frames would not have moved its score across {threshold}.",
        "region": "Blurring just {share} of {those} would also have changed it.",
        "that_frame": "that frame", "those_frames": "those frames", "frame": "frame", "frames_word": "frames",
        "and": "and",
        "anomaly": "{Reviewer} checked the footage and agreed with the system: it is treated as possibly showing {cls}.",
        "no_anomaly_confirm": "{Reviewer} checked the footage and agreed with the system: it is not treated as an "
                              "incident.",
        "no_anomaly_override": "{Reviewer} checked the footage and decided the system was wrong: it is not treated as "
                               "an incident.",
        "anomaly_override": "{Reviewer} checked the footage and decided the system was wrong: it is treated as an "
                            "incident.",
        "no_finding": "{Reviewer} checked the footage and agreed that no finding can be drawn from it.",
        "own_finding": "{Reviewer} checked the footage and took a decision of their own, with reasons given in this "
                       "report.",
        "escalated": "{Reviewer} checked the footage and passed the case on for more checks: nothing has been "
                     "decided yet.",
        "submitted": "A second person still has to check this decision. Until then it is not final.",
        "countersigned": "A second person, {approver}, checked it and confirmed it. The decision is final.",
        "returned": "A second person, {approver}, sent it back to be looked at again. It is not final.",
        "rejected": "A second person, {approver}, rejected it. The decision does not stand.",
        "contest": "If you think this is wrong, you can ask for a person to look again: contact {controller}, {contact}.",
        "contest_long": "If you think this is wrong, the section 'Contesting this decision' of this report says how to "
                        "ask for a person to look again.",
    },
    "fr": {
        "looked": "Un système informatique a examiné les images d'une caméra, de la seconde {start} à la seconde {end}.",
        "flagged": "Il a signalé ce passage comme pouvant montrer « {cls} ». Son score était de {score} sur 1 ; il "
                   "signale les images à partir de {threshold}. Il a donné à « {cls} » une probabilité de {p}.",
        "not_flagged": "Il n'a pas signalé ce passage. Son score était de {score} sur 1, sous le seuil de {threshold} "
                       "à partir duquel il signale. La classe la plus probable était « {cls} », avec une probabilité "
                       "de {p}.",
        "no_reading": "Les images n'étaient pas assez nettes, ou pas assez proches de ce que le système a appris, "
                      "donc il n'a donné aucun résultat.",
        "frames": "Les images qui ont le plus compté pour lui sont les images {frames}.",
        "cf_flag": "Sans {frame_word} {frames}, il l'aurait signalé comme « {cls} » (score {after} au lieu de {before}).",
        "cf_clear": "Sans {frame_word} {frames}, il ne l'aurait pas signalé (score {after} au lieu de {before}).",
        "cf_class": "Sans {frame_word} {frames}, il aurait vu « {cls} » (score {after} au lieu de {before}).",
        "cf_score": "En lisant quand même son score : sans {frame_word} {frames}, le score aurait été de {after} au "
                    "lieu de {before}.",
        "cf_differ": "Ce ne sont pas toutes des images qui ont le plus compté : ce qui change une réponse n'est pas "
                     "toujours ce qui a le plus pesé.",
        "cf_none": "Retirer {k} images ou moins n'aurait pas changé sa réponse.",
        "cf_none_score": "Retirer {k} images ou moins n'aurait pas fait passer son score de l'autre côté de {threshold}.",
        "region": "Flouter seulement {share} de {those} l'aurait aussi changée.",
        "that_frame": "cette image", "those_frames": "ces images", "frame": "l'image", "frames_word": "les images",
        "and": "et",
        "anomaly": "{Reviewer} a vérifié les images et a donné raison au système : elles sont traitées comme pouvant "
                   "montrer « {cls} ».",
        "no_anomaly_confirm": "{Reviewer} a vérifié les images et a donné raison au système : elles ne sont pas "
                              "traitées comme un incident.",
        "no_anomaly_override": "{Reviewer} a vérifié les images et a jugé que le système se trompait : elles ne sont "
                               "pas traitées comme un incident.",
        "anomaly_override": "{Reviewer} a vérifié les images et a jugé que le système se trompait : elles sont "
                            "traitées comme un incident.",
        "no_finding": "{Reviewer} a vérifié les images et a confirmé qu'on ne peut en tirer aucun résultat.",
        "own_finding": "{Reviewer} a vérifié les images et a pris sa propre décision, motivée dans ce rapport.",
        "escalated": "{Reviewer} a vérifié les images et a transmis le cas pour d'autres vérifications : rien n'est "
                     "encore décidé.",
        "submitted": "Une deuxième personne doit encore vérifier cette décision. D'ici là, elle n'est pas définitive.",
        "countersigned": "Une deuxième personne, {approver}, l'a vérifiée et confirmée. La décision est définitive.",
        "returned": "Une deuxième personne, {approver}, l'a renvoyée pour un nouvel examen. Elle n'est pas définitive.",
        "rejected": "Une deuxième personne, {approver}, l'a rejetée. La décision n'est pas maintenue.",
        "contest": "Si vous pensez que c'est une erreur, vous pouvez demander qu'une personne regarde à nouveau : "
                   "contactez {controller}, {contact}.",
        "contest_long": "Si vous pensez que c'est une erreur, la section « Contesting this decision » de ce rapport dit "
                        "comment demander qu'une personne regarde à nouveau.",
    },
    "de": {
        "looked": "Ein Computersystem hat Aufnahmen einer Kamera von Sekunde {start} bis Sekunde {end} angesehen.",
        "flagged": "Es hat diesen Teil als möglicherweise „{cls}“ gemeldet. Sein Wert war {score} von 1; es meldet ab "
                   "{threshold}. „{cls}“ gab es eine Wahrscheinlichkeit von {p}.",
        "not_flagged": "Es hat diesen Teil nicht gemeldet. Sein Wert war {score} von 1, unter der Schwelle von "
                       "{threshold}. Am wahrscheinlichsten war „{cls}“, mit einer Wahrscheinlichkeit von {p}.",
        "no_reading": "Die Aufnahmen waren nicht klar genug oder zu anders als das, woraus das System gelernt hat. "
                      "Deshalb hat es kein eigenes Ergebnis gegeben.",
        "frames": "Am meisten zählten für es die Bilder {frames}.",
        "cf_flag": "Ohne {frame_word} {frames} hätte es „{cls}“ gemeldet (Wert {after} statt {before}).",
        "cf_clear": "Ohne {frame_word} {frames} hätte es nichts gemeldet (Wert {after} statt {before}).",
        "cf_class": "Ohne {frame_word} {frames} hätte es „{cls}“ gesehen (Wert {after} statt {before}).",
        "cf_score": "Sein Wert trotzdem gelesen: Ohne {frame_word} {frames} wäre der Wert {after} statt {before} "
                    "gewesen.",
        "cf_differ": "Das sind nicht alles Bilder, die am meisten zählten: Was eine Antwort ändert, wog nicht immer "
                     "am meisten.",
        "cf_none": "Hätte man {k} oder weniger Bilder weggelassen, wäre seine Antwort gleich geblieben.",
        "cf_none_score": "Hätte man {k} oder weniger Bilder weggelassen, wäre sein Wert nicht über {threshold} "
                         "gesprungen.",
        "region": "Schon {share} {those} unscharf zu machen, hätte sie auch geändert.",
        "that_frame": "dieses Bildes", "those_frames": "dieser Bilder", "frame": "Bild", "frames_word": "die Bilder",
        "and": "und",
        "anomaly": "{Reviewer} hat die Aufnahmen geprüft und dem System zugestimmt: Sie gelten als möglicherweise "
                   "„{cls}“.",
        "no_anomaly_confirm": "{Reviewer} hat die Aufnahmen geprüft und dem System zugestimmt: Sie gelten nicht als "
                              "Vorfall.",
        "no_anomaly_override": "{Reviewer} hat die Aufnahmen geprüft und entschieden, dass das System falsch lag: "
                               "Sie gelten nicht als Vorfall.",
        "anomaly_override": "{Reviewer} hat die Aufnahmen geprüft und entschieden, dass das System falsch lag: Sie "
                            "gelten als Vorfall.",
        "no_finding": "{Reviewer} hat die Aufnahmen geprüft und bestätigt, dass sich daraus kein Ergebnis ziehen lässt.",
        "own_finding": "{Reviewer} hat die Aufnahmen geprüft und selbst entschieden, mit Gründen in diesem Bericht.",
        "escalated": "{Reviewer} hat die Aufnahmen geprüft und den Fall zur weiteren Prüfung weitergegeben: Noch ist "
                     "nichts entschieden.",
        "submitted": "Eine zweite Person muss diese Entscheidung noch prüfen. Bis dahin ist sie nicht endgültig.",
        "countersigned": "Eine zweite Person, {approver}, hat sie geprüft und bestätigt. Die Entscheidung ist endgültig.",
        "returned": "Eine zweite Person, {approver}, hat sie zur erneuten Prüfung zurückgegeben. Sie ist nicht "
                    "endgültig.",
        "rejected": "Eine zweite Person, {approver}, hat sie abgelehnt. Die Entscheidung gilt nicht.",
        "contest": "Wenn Sie meinen, dass das falsch ist, können Sie eine erneute Prüfung durch einen Menschen "
                   "verlangen: Wenden Sie sich an {controller}, {contact}.",
        "contest_long": "Wenn Sie meinen, dass das falsch ist: Der Abschnitt „Contesting this decision“ dieses "
                        "Berichts sagt, wie Sie eine erneute Prüfung durch einen Menschen verlangen.",
    },
}
