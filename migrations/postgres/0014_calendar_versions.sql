-- Every bank-holiday calendar the service has run with, and from when, so that a case can
-- be shown as it stood at any moment with the calendar in force then.
-- `holidays` is the calendar's full holiday list as JSON (see `Calendar::holidays`): enough
-- to rebuild it after the file it was loaded from is gone or the built-in rules changed.
CREATE TABLE calendar_versions (
    version    text        PRIMARY KEY,
    holidays   text        NOT NULL,
    first_used timestamptz NOT NULL
);

-- One row each time a start-up brings a calendar other than the latest one into force.
CREATE TABLE calendars_in_force (
    position      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version       text        NOT NULL REFERENCES calendar_versions (version),
    in_force_from timestamptz NOT NULL
);
