-- The number of homes of each reported tenure per reporting year (`2025-26`), set by an
-- admin: the denominators of the Tenant Satisfaction Measure CH01.
CREATE TABLE organisation_homes
(
    year       text PRIMARY KEY,
    lcra       bigint NOT NULL,
    lcho       bigint NOT NULL,
    updated_at text   NOT NULL,
    updated_by text   NOT NULL
);
