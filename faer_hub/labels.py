"""Label vocabularies of the supported datasets: the single source of truth.

Model pretrained configs, dataset ``ClassLabel`` features, metrics and model cards all
read their label names from here, so they can never disagree.
"""

from __future__ import annotations

CELEBA_ATTRIBUTES: tuple[str, ...] = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs",
    "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows",
    "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones",
    "Male", "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin",
    "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair",
    "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace",
    "Wearing_Necktie", "Young",
)
"""CelebA's 40 attributes in the order of ``list_attr_celeba.txt``."""

RAFDB_LABELS: tuple[str, ...] = (
    "surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral",
)
"""RAF-DB basic expressions; the file's ids 1-7 map to indices 0-6."""

AFFECTNET8_LABELS: tuple[str, ...] = (
    "neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger", "contempt",
)
"""AffectNet expression codes 0-7 (codes 8-10, None/Uncertain/No-Face, are never used)."""

AFFECTNET7_LABELS: tuple[str, ...] = AFFECTNET8_LABELS[:7]
"""AffectNet-7: codes 0-6 (contempt dropped)."""

AFFECTNET_VA_LABELS: tuple[str, ...] = ("valence", "arousal")
"""AffectNet's continuous annotations, both in [-1, 1] (Mollahosseini et al. 2017): the outputs of
the valence/arousal task and the dataset columns of the same names."""

AFFECTNET_VA_EXPRESSIONS: tuple[str, ...] = (*AFFECTNET8_LABELS, "none")
"""Expression codes 0-8 of the rows the valence/arousal task keeps (``expression`` column of the
``'va'`` builder config): codes 9-10 (Uncertain, No-Face) carry no valence/arousal."""
