use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(get = "/a/{id}", timeout = "soon")]
    async fn call(&self, id: &str) -> Result<(), Error>;
}

// The generated items exist even though the trait has a mistake: no error here.
async fn _uses(client: &fintecture_oauth::Client) -> Result<(), Error> {
    let _request = ApiRequests::call(client, "id")?;
    client.call("id").await
}

fn _spawns(client: fintecture_oauth::Client) {
    let _ = async move { client.call("id").await };
}

fn main() {}
