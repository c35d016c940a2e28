"""Column names shared by every DataFrame in the collection.

DataFrame functions take these as keyword-argument defaults, so a teacher with another data set
can pass their own names instead of renaming columns.
"""

USER_COL = "user_id"
ITEM_COL = "item_id"
RATING_COL = "rating"
TIMESTAMP_COL = "timestamp"
LABEL_COL = "label"
PREDICTION_COL = "prediction"

TITLE_COL = "title"
YEAR_COL = "year"
GENRES_COL = "genres"  # a tuple of genre names per item

AGE_COL = "age"
GENDER_COL = "gender"
OCCUPATION_COL = "occupation"
ZIP_COL = "zip_code"

HEAD_COL = "head_id"
RELATION_COL = "relation_id"
TAIL_COL = "tail_id"
ENTITY_COL = "entity_id"

PROFILES = ("smoke", "full", "gpu")
