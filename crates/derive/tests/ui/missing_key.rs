use hub_derive::JsonError;

#[derive(JsonError)]
pub enum ApiError {
    #[json(status = BAD_REQUEST)]
    BadRequest(String),
}

fn main() {}
