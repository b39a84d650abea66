-- A user's team leader (another user's id): emailed the user's notifications alongside
-- them. Set by an administrator; NULL when the user has none.
ALTER TABLE users ADD COLUMN team_leader text;
