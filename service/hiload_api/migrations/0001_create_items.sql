-- The items resource. Limits mirror the API's validation so that a row written by
-- any other client still satisfies what the API promises to return.
CREATE TABLE items (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL CONSTRAINT items_name_key UNIQUE
               CONSTRAINT items_name_length CHECK (char_length(name) BETWEEN 1 AND 200),
    price      numeric(12, 2) NOT NULL CONSTRAINT items_price_not_negative CHECK (price >= 0),
    tags       text[] NOT NULL DEFAULT '{}'
               CONSTRAINT items_tags_count CHECK (cardinality(tags) <= 16),
    created_at timestamptz NOT NULL DEFAULT now()
);
