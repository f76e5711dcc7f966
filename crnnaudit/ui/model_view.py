"""The Model page's parts: loading another model (admins: from the models folders or an upload,
never a typed path) and editing the model card (admins; each edit a logged row)."""

from __future__ import annotations

import streamlit as st

from ..card import PREPROCESSING, ModelCard, default_sidecar_path, sidecar_path
from ..errors import CardError, CrnnauditError
from ..review.uploads import save_upload
from ..vocabulary import CARD_SUFFIXES, MODEL_SUFFIXES
from . import model_choice, uploads
from .session import send


def load_form(review, who) -> None:
    """Another model for this review, from where models may come."""
    if not who.may("manage_models"):
        st.caption("Loading models and editing model cards takes the admin role.")
        return
    path = st.selectbox("A model in the configured folders (CRNNAUDIT_MODELS_DIR)",
                        [""] + [str(p) for p in model_choice.model_choices()], key="model_pick")
    registered = model_choice.registry_picker("…or a registered model (MLflow registry)", key="model_pick_registry")
    up = st.file_uploader(f"…or upload a model (at most {uploads.upload_limit_mb()} MB)",
                          type=[s[1:] for s in MODEL_SUFFIXES], key="model_upload",
                          max_upload_size=uploads.upload_limit_mb())
    card_up = st.file_uploader("Model card (optional, JSON or YAML)", type=[s[1:] for s in CARD_SUFFIXES],
                               key="card_upload", max_upload_size=1)
    if st.button("Load", key="load_model"):
        try:
            who.require("manage_models", "load models")
            chosen = str(save_upload(up, "model", MODEL_SUFFIXES)) if up else path or registered
            card = str(save_upload(card_up, "model card", CARD_SUFFIXES)) if card_up else None
            if not chosen:
                raise CardError("pick a model from the configured folders or the registry, or upload a model file")
            if chosen == registered:  # resolved and pinned now: the review uses this version throughout
                chosen = model_choice.pin(registered, fresh=True)
            review.world.model(chosen, card)  # fails here, with the loader's message, if unusable
            review.use_model(chosen, card)
            st.success(f"Loaded {chosen}")
        except CrnnauditError as e:
            st.error(str(e))


def what_was_found(review) -> None:
    """The model under review: where it came from (a registry version as this review pinned it),
    its decomposition and its check."""
    from ..review.work import registry_pin
    model, g = review.model(), registry_pin(review)
    info = model.describe()
    if g:
        st.info(f"From the model registry: {g['uri']}, version {g['version']}, pinned {g['pinned_at']} (file SHA-256 "
                f"{g['sha256']}). This review uses that version throughout, wherever the alias points later.",
                icon=":material/push_pin:")
    c1, c2, c3 = st.columns(3)
    c1.metric("Frames per window", model.window_length)
    c2.metric("Target conv layer", info["target_layer"] or "none")
    diff = model.verify()
    c3.metric("Decomposition check", f"{diff:.1e}", help="max |original - conv/pool/head| on a random window")
    (st.success if diff <= 1e-5 else st.error)(f"head(pool(conv(x))) reproduces the model to {diff:.1e} (limit 1e-5)")
    st.subheader("What was found")
    st.json({k: info[k] for k in ("input", "per_frame_layers", "target_layer", "conv_maps", "feature_shape",
                                  "recurrent_layers", "outputs", "output_activation")}, expanded=False)
    caps = info["capabilities"]
    st.write("Capabilities: " + ", ".join(f"{'yes' if caps[k] else 'no'}: {k}"
                                          for k in ("gradients", "spatial_cam", "temporal")))
    for note in caps["notes"]:
        st.warning(note)
    st.dataframe(model.layers_table(), hide_index=True, width="stretch")


def card_form(review, who) -> None:
    """The model card, editable by admins; a save rewrites the sidecar, logs the edit and makes
    the review start the model's windows again."""
    model = review.model()
    card = model.card
    with st.form("card_form"):
        name = st.text_input("Name", card.name)
        version = st.text_input("Version", card.version)
        classes = st.text_input("Classes (comma separated, one per output)", ", ".join(card.classes))
        anomalies = st.text_input("Anomaly classes", ", ".join(card.anomaly_classes))
        prep = st.selectbox("Preprocessing", PREPROCESSING, index=PREPROCESSING.index(card.preprocessing))
        threshold = st.slider("Decision threshold", 0.0, 1.0, float(card.threshold), 0.01)
        stride = st.number_input("Stride (frames between windows)", 1, 1000, int(card.stride))
        rate = st.number_input("Frame rate the model was trained on (frames per second; 0: every decoded frame)",
                               0.0, 1000.0, float(card.frame_rate or 0.0), 1.0, key="card_frame_rate")
        intended = st.text_area("Intended use", card.intended_use)
        training = st.text_area("Training data", card.training_data)
        limits = st.text_area("Known limitations (one per line)", "\n".join(card.known_limitations))
        owner = st.text_input("Owner", card.owner)
        saved = st.form_submit_button("Save card", disabled=not who.may("edit_card"))
    if not saved:
        return
    split = lambda s: [x.strip() for x in s.split(",") if x.strip()]  # noqa: E731
    data = dict(card.to_dict(), name=name, version=version, classes=split(classes), anomaly_classes=split(anomalies),
                preprocessing=prep, threshold=threshold, stride=int(stride), frame_rate=float(rate) or None,
                intended_use=intended,
                training_data=training, known_limitations=[x for x in limits.splitlines() if x.strip()], owner=owner)
    try:
        new = ModelCard.from_dict(data, source="the card form")
        if len(new.classes) != model.n_outputs:
            raise CardError(f"the card form: {len(new.classes)} classes for a model with {model.n_outputs} outputs")
        who.require("edit_card", "edit model cards")
        target = sidecar_path(model.source) or default_sidecar_path(model.source)
        new.model_sha256 = model.sha256  # the file this card now describes, checked on every load
        new.write(target)  # in the sidecar's own format: JSON or YAML
        model_choice.log_card_edit(model, new, target, who)  # a registry version's card is stored back there too
        send(review.model_changed)
        st.success(f"Saved {target}")
        st.rerun()
    except (CrnnauditError, OSError) as e:
        st.error(str(e))
